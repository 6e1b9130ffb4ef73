"""core/client.py connects through temporalio's envconfig profiles: TLS, API keys, Temporal Cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from core.client import connect_options
from core.config import ConfigError, Settings

CLOUD = """
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "agents.a1b2c.tmprl.cloud:7233"
namespace = "agents.a1b2c"
api_key = "key-from-the-profile"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "prod"
[profile.mtls.tls]
server_name = "temporal.internal"
client_cert_data = "CERT"
client_key_data = "KEY"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(CLOUD)
    return path


def test_a_cloud_profile_brings_its_address_namespace_api_key_and_tls(config_file: Path) -> None:
    env = {"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "cloud"}
    options = connect_options(Settings(), env)
    assert options == {
        "target_host": "agents.a1b2c.tmprl.cloud:7233",
        "namespace": "agents.a1b2c",
        "api_key": "key-from-the-profile",
        "tls": True,
    }


def test_an_mtls_profile_gives_a_tls_config_with_the_client_certificate(config_file: Path) -> None:
    env = {"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "mtls"}
    tls = connect_options(Settings(), env)["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.domain, tls.client_cert, tls.client_private_key) == ("temporal.internal", b"CERT", b"KEY")


def test_settings_that_name_an_address_win_and_variables_override_the_file(config_file: Path) -> None:
    env = {
        "TEMPORAL_CONFIG_FILE": str(config_file),
        "TEMPORAL_PROFILE": "cloud",
        "TEMPORAL_API_KEY": "key-from-the-environment",
    }
    options = connect_options(Settings(temporal_address="127.0.0.1:7999", namespace="tests"), env)
    assert (options["target_host"], options["namespace"]) == ("127.0.0.1:7999", "tests")
    assert options["api_key"] == "key-from-the-environment"


def test_no_profile_is_the_settings_alone(tmp_path: Path) -> None:
    env = {"TEMPORAL_CONFIG_FILE": str(tmp_path / "absent.toml")}
    assert connect_options(Settings(), env) == {"target_host": "localhost:7233", "namespace": "default"}


def test_a_malformed_profile_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[profile.default\naddress = ")
    with pytest.raises(ConfigError, match="profile"):
        connect_options(Settings(), {"TEMPORAL_CONFIG_FILE": str(bad)})
