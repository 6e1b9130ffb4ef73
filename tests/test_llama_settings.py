"""llama.cpp settings (issue 19): defaults, AGENT_LLAMA_* overrides, and every bad value refused at start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm.factory import start_local_server
from activities.llm.llama_settings import LlamaSettings
from activities.llm.local_model import MODEL_FILE
from core.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_pass_their_own_checks_and_reach_llama_cpp() -> None:
    xllamacpp = pytest.importorskip("xllamacpp")
    settings = LlamaSettings.from_env({})
    assert settings == LlamaSettings()
    params = xllamacpp.CommonParams()
    LlamaSettings(threads=1, n_ctx=4096, n_batch=256, n_ubatch=128, slots=2, cache_ram_mib=64).apply(params)
    assert (params.cpuparams.n_threads, params.cpuparams_batch.n_threads) == (1, 1)
    assert (params.n_batch, params.n_ubatch, params.n_parallel) == (256, 128, 2)
    assert params.n_ctx == 8192  # each of the two slots gets the 4096 it was promised
    assert params.cache_prompt and params.cache_ram_mib == 64 and not params.warmup


def test_overrides_are_read_from_the_environment() -> None:
    env = {"AGENT_LLAMA_THREADS": " 1 ", "AGENT_LLAMA_CTX": "4096", "AGENT_LLAMA_BATCH": "256"}
    env |= {"AGENT_LLAMA_UBATCH": "64", "AGENT_LLAMA_SLOTS": "2", "AGENT_LLAMA_CACHE_MIB": "0"}
    assert LlamaSettings.from_env(env) == LlamaSettings(
        threads=1, n_ctx=4096, n_batch=256, n_ubatch=64, slots=2, cache_ram_mib=0
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AGENT_LLAMA_THREADS", "0", "threads (AGENT_LLAMA_THREADS) = 0: must be between 1 and"),
        ("AGENT_LLAMA_THREADS", "-2", "threads (AGENT_LLAMA_THREADS) = -2"),
        ("AGENT_LLAMA_THREADS", "two", "AGENT_LLAMA_THREADS='two': expected a whole number"),
        ("AGENT_LLAMA_CTX", "128", "context (AGENT_LLAMA_CTX) = 128: must be between 512 and 32768"),
        ("AGENT_LLAMA_CTX", "100000", "context (AGENT_LLAMA_CTX) = 100000"),
        ("AGENT_LLAMA_UBATCH", "4096", "micro-batch (AGENT_LLAMA_UBATCH) = 4096: must be between 1 and"),
        ("AGENT_LLAMA_BATCH", "0", "batch (AGENT_LLAMA_BATCH) = 0"),
        ("AGENT_LLAMA_SLOTS", "0", "slots (AGENT_LLAMA_SLOTS) = 0"),
        ("AGENT_LLAMA_CACHE_MIB", "-1", "prompt cache MiB (AGENT_LLAMA_CACHE_MIB) = -1"),
    ],
)
def test_a_setting_out_of_range_is_refused_with_its_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LlamaSettings.from_env({name: value})


def test_the_worker_refuses_bad_llama_settings_before_it_connects() -> None:
    env = {
        **os.environ,
        "AGENT_LLAMA_THREADS": "0",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "LLM_PROVIDER": "local",
    }
    done = subprocess.run(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "worker: llama.cpp threads (AGENT_LLAMA_THREADS) = 0: must be between 1 and 512"
    )


def _corrupt_model(data_dir: Path) -> Path:
    path = data_dir / "models" / MODEL_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a model")
    return path


async def test_a_model_that_fails_its_sha256_is_a_config_error(tmp_path: Path) -> None:
    path = _corrupt_model(tmp_path)
    with pytest.raises(ConfigError, match=f"model file {MODEL_FILE} has sha256 .*, expected"):
        await start_local_server(Settings(llm_provider="local", data_dir=tmp_path), LlamaSettings())
    assert not path.exists()  # never loaded, and gone so the next start joins the chunks again


async def test_the_worker_stops_with_one_line_on_a_bad_model_file(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    _corrupt_model(tmp_path)
    address = env.client.service_client.config.target_host
    worker_env = {**os.environ, "TEMPORAL_ADDRESS": address, "AGENT_DATA_DIR": str(tmp_path)}
    worker_env |= {"LLM_PROVIDER": "local", "AGENT_TASK_QUEUE": "tq-bad-model"}
    command = [sys.executable, "worker.py"]
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=worker_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"worker: model file {MODEL_FILE} has sha256 ") and "Reinstall" in last
