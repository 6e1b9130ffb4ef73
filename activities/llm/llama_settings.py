"""llama.cpp's settings for the embedded model, each overridable by environment and checked at start.

The defaults come from `make bench-model` on the 2-core machine the demo targets; the reason for each
is next to it. Figures are in the bench's output, not here: they change with the machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config import ConfigError

# Qwen2.5-Coder-1.5B was trained with a 32K context; llama.cpp refuses more than the model supports.
MAX_CONTEXT = 32_768
MIN_CONTEXT = 512
MAX_THREADS = 512  # ggml's own ceiling (GGML_MAX_N_THREADS)
MAX_SLOTS = 16


@dataclass(frozen=True)
class LlamaSettings:
    """What LocalModelServer hands llama.cpp; `from_env` reads the AGENT_LLAMA_* overrides."""

    # One thread per core: generation is memory-bound and a third thread only adds barrier waits; on
    # a shared machine fewer threads than cores is slower whenever the other core is free.
    threads: int = 2
    # The context of one slot: the context window's default prompt budget plus a full reply fits.
    n_ctx: int = 8192
    # Tokens per decode call and per compute pass: a prompt is cut into n_batch-token requests and
    # each into n_ubatch-token passes. Larger passes reuse each weight block across more tokens (the
    # matrix kernels' win) until the activations stop fitting in the cache; past that, no gain.
    n_batch: int = 2048
    n_ubatch: int = 512
    # One slot gets all the compute; the host-memory prompt cache below keeps other prefixes (a second
    # agent, another run's conversation) so switching between them does not recompute them.
    slots: int = 1
    # llama.cpp saves a slot's prompt state here before reusing the slot for a different prompt, and
    # restores the best match for the next request: a bound, not an allocation.
    cache_ram_mib: int = 8192
    # llama.cpp's own warm-up (an empty decode) is not needed: the prefix warm-up (warmup.py) runs a
    # real prompt through every weight before the worker reports ready.
    warmup: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlamaSettings:
        """The defaults with AGENT_LLAMA_{THREADS,CTX,BATCH,UBATCH,SLOTS,CACHE_MIB} applied and checked."""
        env = os.environ if env is None else env
        settings = cls(
            threads=_int(env, "AGENT_LLAMA_THREADS", cls.threads),
            n_ctx=_int(env, "AGENT_LLAMA_CTX", cls.n_ctx),
            n_batch=_int(env, "AGENT_LLAMA_BATCH", cls.n_batch),
            n_ubatch=_int(env, "AGENT_LLAMA_UBATCH", cls.n_ubatch),
            slots=_int(env, "AGENT_LLAMA_SLOTS", cls.slots),
            cache_ram_mib=_int(env, "AGENT_LLAMA_CACHE_MIB", cls.cache_ram_mib),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """ConfigError naming the first setting llama.cpp would reject or silently replace."""
        _within("threads (AGENT_LLAMA_THREADS)", self.threads, 1, MAX_THREADS)
        _within("context (AGENT_LLAMA_CTX)", self.n_ctx, MIN_CONTEXT, MAX_CONTEXT)
        _within("batch (AGENT_LLAMA_BATCH)", self.n_batch, 1, self.n_ctx)
        _within("micro-batch (AGENT_LLAMA_UBATCH)", self.n_ubatch, 1, self.n_batch)
        _within("slots (AGENT_LLAMA_SLOTS)", self.slots, 1, MAX_SLOTS)
        _within("prompt cache MiB (AGENT_LLAMA_CACHE_MIB)", self.cache_ram_mib, 0, 1 << 20)

    def apply(self, params: Any) -> None:
        """Set these on an xllamacpp.CommonParams."""
        # llama.cpp splits n_ctx between the slots: each gets the context it is promised, never a share
        # of one buffer that a busy neighbour could fill.
        params.n_ctx = self.n_ctx * self.slots
        params.n_parallel = self.slots
        params.kv_unified = False
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_ubatch
        params.cache_prompt = True
        params.cache_ram_mib = self.cache_ram_mib
        params.warmup = self.warmup


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None


def _within(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"llama.cpp {what} = {value}: must be between {low} and {high}")
