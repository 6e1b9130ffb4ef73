"""The numpy MiniLM against references: a second, independent float64 implementation
(tests/minilm_reference.py) and figures sentence-transformers and fastembed publish for this model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from activities.embeddings import MiniLM, clean_text, shared_encoder

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return shared_encoder()


def test_vectors_match_the_independent_float64_reference(model: MiniLM) -> None:
    reference = json.loads(REFERENCE.read_text())["vectors"]
    ours = model.encode(list(reference))  # one padded batch: padding must not change any vector
    for row, (text, expected) in zip(ours, reference.items(), strict=True):
        cosine = float(row @ np.array(expected))
        assert cosine > 0.99999, (text, cosine)
        assert abs(float(np.linalg.norm(row)) - 1.0) < 1e-5


def test_published_figures_of_the_model(model: MiniLM) -> None:
    # sentence-transformers' README: similarities of its three example sentences, to 4 decimals.
    e = model.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = e @ e.T
    assert np.allclose([sims[0, 1], sims[0, 2], sims[1, 2]], [0.6660, 0.1046, 0.1411], atol=1e-4)
    # fastembed's canonical first five values of "hello world" for this model.
    hello = model.encode(["hello world"])[0][:5]
    assert np.allclose(hello, [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362], atol=1e-5)


def test_text_the_tokenizer_would_refuse_is_embedded(model: MiniLM) -> None:
    assert clean_text("a\ud800b") == "a?b"
    vectors = model.encode(["\ud800", "", "x" * 5000])
    assert vectors.shape == (3, 384) and np.isfinite(vectors).all()


def test_importing_the_worker_and_the_agents_loads_no_model(tmp_path: Path) -> None:
    code = (
        "import sys, worker, agents.merchant_support, agents.shop, activities.embeddings as e;"
        "assert not e.loaded(); assert 'numpy' not in sys.modules, 'numpy imported at start'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENT_DATA_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True)
