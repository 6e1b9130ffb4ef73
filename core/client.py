"""The one client factory: every process talks to Temporal with the pydantic converter.

Where and how to connect comes from a temporalio envconfig profile: TEMPORAL_PROFILE in
TEMPORAL_CONFIG_FILE (default ~/.config/temporalio/temporal.toml), then the TEMPORAL_* variables over
it (TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, …): TLS, API keys, Temporal Cloud.
The address and namespace of `Settings` win unless they are the defaults and the profile names its own.

When `AGENT_CODEC_KEYS` is set (core/codec.py) payloads are encrypted before they leave the
process; malformed or missing keys raise ConfigError here, before any run is touched.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile

from core.codec import codec_from_env, data_converter
from core.config import ConfigError, Settings
from core.payload_store import payload_storage


def deployment_converter(settings: Settings, env: Mapping[str, str] | None = None) -> DataConverter:
    """Pydantic, the codec when keys are configured, and the payload store for large payloads."""
    # Large payloads (long prompts) go to the shared payload store; history keeps a reference.
    return dataclasses.replace(
        data_converter(codec_from_env(env)), external_storage=payload_storage(settings.data_dir)
    )


def connect_options(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`Client.connect` keywords from the envconfig profile, with the settings' address and namespace."""
    env = os.environ if env is None else env
    try:
        profile = ClientConfigProfile.load(env.get("TEMPORAL_PROFILE"), override_env_vars=dict(env))
    except Exception as exc:  # the loader reports a bad file or variable in several error types
        raise ConfigError(f"Temporal client profile: {exc}") from None
    options: dict[str, Any] = dict(profile.to_client_connect_config())
    if settings.temporal_address != Settings.temporal_address or "target_host" not in options:
        options["target_host"] = settings.temporal_address
    if settings.namespace != Settings.namespace or "namespace" not in options:
        options["namespace"] = settings.namespace
    return options


async def connect(settings: Settings, *, env: Mapping[str, str] | None = None) -> Client:
    converter = deployment_converter(settings, env)
    return await Client.connect(**connect_options(settings, env), data_converter=converter)
