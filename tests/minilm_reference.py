"""Writes tests/data/minilm_reference.json: MiniLM vectors from a second, independent implementation.

torch is not installed here (over a gigabyte), so the reference is this plain float64 forward pass,
written apart from activities/embeddings.py: one sentence at a time (no padding, no batch), each
attention head in its own loop, the exact erf from `math`, the weights read as float64. It shares only
the tokenizer and the weights. Its own check against published figures is in tests/test_embeddings.py.

    python -m tests.minilm_reference
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from activities.embeddings import model_dir

OUT = Path(__file__).parent / "data" / "minilm_reference.json"
SENTENCES = (
    "hello world",
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "my customer was billed twice for one order",
    "procesing fess",
    "Payout schedule. Funds from successful payments are paid out to the bank account on a rolling 2 "
    "business day schedule for the standard plan and next business day for the growth plan.",
)


def norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * g + b


def embed(text: str, w: dict[str, np.ndarray], tok: Tokenizer) -> list[float]:
    ids = tok.encode(text).ids[:256]
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
    x = norm(
        x + w["embeddings.token_type_embeddings.weight"][0],
        w["embeddings.LayerNorm.weight"],
        w["embeddings.LayerNorm.bias"],
    )
    erf = np.vectorize(math.erf)
    for i in range(6):
        p = f"encoder.layer.{i}."

        def lin(name: str, v: np.ndarray, p: str = p) -> np.ndarray:
            return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q, k, v = (lin(f"attention.self.{n}", x) for n in ("query", "key", "value"))
        heads = []
        for h in range(12):
            s = slice(32 * h, 32 * (h + 1))
            scores = q[:, s] @ k[:, s].T / math.sqrt(32)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            heads.append((probs / probs.sum(-1, keepdims=True)) @ v[:, s])
        a = norm(
            lin("attention.output.dense", np.concatenate(heads, -1)) + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        up = lin("intermediate.dense", a)
        up = 0.5 * up * (1 + erf(up / math.sqrt(2)))
        out = lin("output.dense", up) + a
        x = norm(out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    pooled = x.mean(0)
    return [float(f) for f in pooled / np.linalg.norm(pooled)]


def main() -> None:
    directory = model_dir()
    w = {k: v.astype(np.float64) for k, v in load_file(str(directory / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    vectors = {s: embed(s, w, tok) for s in SENTENCES}
    OUT.write_text(json.dumps({"method": __doc__.split("\n")[0], "vectors": vectors}) + "\n")


if __name__ == "__main__":
    main()
