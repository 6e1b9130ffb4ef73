"""Worker telemetry from the environment: the SDK runtime's Prometheus endpoint and OpenTelemetry tracing.

- AGENT_METRICS_PORT=9464 (unset: off) serves the SDK's and our own metrics on
  http://AGENT_METRICS_HOST:PORT/metrics (host default 127.0.0.1).
- AGENT_OTEL=1 (default off) adds temporalio's TracingInterceptor: a span for every workflow task and
  activity. Spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set and an OTLP exporter is
  installed, else to stderr. Needs the `otel` extra.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor

from core.config import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

TRUE = frozenset({"1", "true", "yes", "on"})


def metrics_bind_address(env: Mapping[str, str] | None = None) -> str | None:
    """`host:port` for the Prometheus endpoint, or None when metrics are off."""
    env = os.environ if env is None else env
    raw = env.get("AGENT_METRICS_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"AGENT_METRICS_PORT={raw!r}: expected a port number 1-65535")
    return f"{env.get('AGENT_METRICS_HOST', '127.0.0.1')}:{int(raw)}"


def runtime_with_prometheus(bind_address: str) -> Runtime:
    """A runtime whose metrics (the SDK's and every activity/workflow meter's) are scraped there."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def runtime_from_env(env: Mapping[str, str] | None = None) -> Runtime | None:
    address = metrics_bind_address(env)
    return runtime_with_prometheus(address) if address else None


def install_runtime_from_env(env: Mapping[str, str] | None = None) -> Runtime | None:
    """Make the env's runtime the process default, so every Client.connect after this uses it."""
    runtime = runtime_from_env(env)
    if runtime is not None:
        Runtime.set_default(runtime, error_if_already_set=False)
    return runtime


def otel_enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("AGENT_OTEL", "").strip().lower() in TRUE


def tracing_interceptors(
    env: Mapping[str, str] | None = None, tracer_provider: TracerProvider | None = None
) -> list[Interceptor]:
    """[TracingInterceptor] when AGENT_OTEL is on, else []; tests pass their own provider."""
    if not otel_enabled(env):
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        print("warning: AGENT_OTEL=1 but opentelemetry is not installed (the otel extra)", file=sys.stderr)
        return []
    provider = tracer_provider or _global_provider(os.environ if env is None else env)
    return [TracingInterceptor(provider.get_tracer("durable-agents"))]


def _global_provider(env: Mapping[str, str]) -> TracerProvider:
    """The SDK provider already installed, or a new one exporting to OTLP or stderr."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider()
    exporter: Any = _otlp_exporter(env) or ConsoleSpanExporter(out=sys.stderr)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _otlp_exporter(env: Mapping[str, str]) -> Any:
    """An OTLP exporter when an endpoint is configured and one is installed (it is not a dependency)."""
    if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    for module in (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    ):
        try:
            return importlib.import_module(module).OTLPSpanExporter()
        except ImportError:
            continue
    print("warning: OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter is installed", file=sys.stderr)
    return None
