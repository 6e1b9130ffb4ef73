"""The circuit breaker as a pure state machine, driven by a fake clock."""

from __future__ import annotations

from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from activities.breaker import (
    BreakerBoard,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    parse_overrides,
)
from agents.merchant_support.tools import GET_TRANSACTION, SEARCH_KNOWLEDGE_BASE, SPECS
from core.config import ConfigError
from core.errors import CircuitOpenError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def breaker(
    clock: FakeClock, threshold: int = 3, cooldown: float = 30.0, successes: int = 2
) -> CircuitBreaker:
    return CircuitBreaker("get_transaction", BreakerConfig(threshold, cooldown, successes), clock)


def fail(b: CircuitBreaker, times: int, error_type: str = "DependencyDownError") -> None:
    for _ in range(times):
        b.before_call()
        b.record_failure(error_type)


def test_opens_after_n_consecutive_failures_and_fails_fast_until_the_cooldown() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 2)
    assert b.state is BreakerState.CLOSED
    with capture_logs() as logs:
        fail(b, 1)
    assert b.state is BreakerState.OPEN
    assert logs == [
        {"event": "circuit.opened", "tool": "get_transaction", "failures": 3, "cooldown": 30.0,
         "log_level": "warning"}
    ]  # fmt: skip
    clock.advance(29.5)
    with pytest.raises(CircuitOpenError) as info:
        b.before_call()
    assert str(info.value) == (
        "get_transaction is degraded (circuit open after 3 consecutive failures); "
        "do not call it again in this run; retry after ~1 s"
    )
    assert info.value.details["retry_after_s"] == 1
    assert not CircuitOpenError.retryable


def test_a_success_resets_the_consecutive_count() -> None:
    b = breaker(FakeClock())
    fail(b, 2)
    b.before_call()
    b.record_success()
    fail(b, 2)
    assert (b.state, b.failures) == (BreakerState.CLOSED, 2)


def test_half_open_lets_exactly_one_probe_through_then_closes_after_m_successes() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)
    with capture_logs() as logs:
        b.before_call()  # the probe
    assert b.state is BreakerState.HALF_OPEN
    assert [e["event"] for e in logs] == ["circuit.half_open"]
    with pytest.raises(CircuitOpenError, match="probe call is in flight"):
        b.before_call()
    b.record_success()
    assert b.state is BreakerState.HALF_OPEN  # 1 of 2 successes
    b.before_call()  # the slot is free again: a second probe
    with capture_logs() as logs:
        b.record_success()
    assert b.state is BreakerState.CLOSED and b.failures == 0
    assert logs[0]["event"] == "circuit.closed" and logs[0]["tool"] == "get_transaction"
    b.before_call()  # closed: calls flow again


def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 3)
    clock.advance(31)
    b.before_call()
    with capture_logs() as logs:
        b.record_failure("TransientError")
    assert b.state is BreakerState.OPEN and logs[0]["event"] == "circuit.opened"
    clock.advance(29)
    with pytest.raises(CircuitOpenError, match="retry after ~1 s"):
        b.before_call()


def test_a_probe_lost_with_its_worker_frees_the_slot_after_a_cooldown() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)
    b.before_call()  # never reports back
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        b.before_call()
    clock.advance(1)
    b.before_call()
    assert b.state is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    "error_type",
    ["InvalidInputError", "NotFoundError", "PermissionDeniedError", "ToolNotFoundError", "CircuitOpenError"],
)
def test_answers_from_a_healthy_dependency_never_trip_it(error_type: str) -> None:
    b = breaker(FakeClock(), threshold=1)
    for _ in range(10):
        b.before_call()
        assert b.record_failure(error_type) is False
    assert b.state is BreakerState.CLOSED and b.failures == 0


@pytest.mark.parametrize(
    "error_type", ["TransientError", "RateLimitedError", "DependencyDownError", "timeout", "unclassified"]
)
def test_dependency_failures_trip_it(error_type: str) -> None:
    b = breaker(FakeClock(), threshold=1)
    b.before_call()
    assert b.record_failure(error_type) is True
    assert b.state is BreakerState.OPEN


def test_a_neutral_failure_of_the_probe_frees_the_slot_without_closing() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)
    b.before_call()
    b.record_failure("NotFoundError")
    assert b.state is BreakerState.HALF_OPEN and b.successes == 0
    b.before_call()  # not refused: the slot was released


@pytest.mark.parametrize(
    ("config", "bad"),
    [
        (BreakerConfig(failure_threshold=0), "failure threshold must be an integer >= 1, got 0"),
        (BreakerConfig(cooldown_s=-1.0), "cool-down must be a finite number of seconds > 0, got -1.0"),
        (BreakerConfig(cooldown_s=float("inf")), "got inf"),
        (BreakerConfig(cooldown_s=float("nan")), "got nan"),
        (BreakerConfig(success_threshold=0), "success threshold must be an integer >= 1, got 0"),
    ],
)
def test_nonsense_configs_are_refused_naming_tool_and_value(config: BreakerConfig, bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        CircuitBreaker("get_transaction", config)
    assert "'get_transaction'" in str(info.value) and bad in str(info.value)


def test_a_spec_with_a_zero_threshold_is_refused_when_the_board_is_built() -> None:
    broken = replace(GET_TRANSACTION, breaker_threshold=0)
    with pytest.raises(ConfigError, match="ToolSpec: circuit breaker of tool 'get_transaction'"):
        BreakerBoard.from_specs([broken, SEARCH_KNOWLEDGE_BASE], env="")


def test_board_takes_spec_defaults_and_env_overrides() -> None:
    clock = FakeClock()
    board = BreakerBoard.from_specs(SPECS, env="get_transaction=1/5/1", clock=clock)
    assert board.get("search_knowledge_base").config == BreakerConfig(3, 30.0, 2)
    assert board.get("get_transaction").config == BreakerConfig(1, 5.0, 1)
    # Breakers are independent: tripping one leaves the others closed.
    fail(board.get("get_transaction"), 1)
    assert board.get("get_transaction").state is BreakerState.OPEN
    board.get("search_knowledge_base").before_call()


def test_env_overrides_parse() -> None:
    assert parse_overrides(" a=5/10/1 , b=2/0.5/3,") == {
        "a": BreakerConfig(5, 10.0, 1),
        "b": BreakerConfig(2, 0.5, 3),
    }
    assert parse_overrides("") == {}


def test_env_with_nonsense_numbers_is_refused_with_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        parse_overrides("x=0/-1/2")
    message = str(info.value)
    assert message.startswith("AGENT_BREAKERS: circuit breaker of tool 'x':")
    assert "failure threshold must be an integer >= 1, got 0" in message
    assert "cool-down must be a finite number of seconds > 0, got -1.0" in message


@pytest.mark.parametrize("garbage", ["x", "x=1/2", "=1/2/3", "x=a/b/c", "x=1.5/2/3", "x=1/2/3/4"])
def test_env_garbage_is_refused_with_the_expected_form(garbage: str) -> None:
    with pytest.raises(ConfigError, match=r"expected tool=threshold/cooldown_s/successes"):
        parse_overrides(garbage)


def test_env_duplicates_and_unknown_tools_are_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        parse_overrides("a=1/1/1,a=2/2/2")
    with pytest.raises(ConfigError, match=r"unknown tools \['get_transactoin'\]"):
        BreakerBoard.from_specs(SPECS, env="get_transactoin=1/1/1")
