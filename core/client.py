"""The one client factory: every process talks to Temporal with the pydantic converter.

When `AGENT_CODEC_KEYS` is set (core/codec.py) payloads are encrypted before they leave the
process; malformed or missing keys raise ConfigError here, before any run is touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from temporalio.client import Client
from temporalio.converter import DataConverter

from core.codec import codec_from_env, data_converter
from core.config import Settings
from core.payload_store import payload_storage


def deployment_converter(settings: Settings, env: Mapping[str, str] | None = None) -> DataConverter:
    """Pydantic, the codec when keys are configured, and the payload store for large payloads."""
    # Large payloads (long prompts) go to the shared payload store; history keeps a reference.
    return dataclasses.replace(
        data_converter(codec_from_env(env)), external_storage=payload_storage(settings.data_dir)
    )


async def connect(settings: Settings, *, env: Mapping[str, str] | None = None) -> Client:
    converter = deployment_converter(settings, env)
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=converter,
    )
