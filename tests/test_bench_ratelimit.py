"""The rate-limit bench's own arithmetic: what its provider recorded, and throughput per whole minute."""

from __future__ import annotations

import pytest

from bench.fake_limits import WindowLimits
from bench.ratelimit import Recorded, full_minutes_share, parse_args


def test_the_provider_records_what_it_admitted_and_the_retry_after_it_sent() -> None:
    quota = Recorded(WindowLimits(rpm=2))
    assert [quota.admit(10, t) for t in (0.0, 1.0)] == [None, None]
    assert quota.admit(10, 2.5) == pytest.approx(57.5)
    assert quota.admitted == [(0.0, 10), (1.0, 10)] and quota.refused == [58.0]


def test_throughput_counts_whole_minutes_from_the_first_call() -> None:
    paced = [n * 60 / 57 for n in range(120)]  # 57 a minute, as the limiter paces at 95 %
    assert full_minutes_share(paced, [1] * 120, 60) == pytest.approx(0.95, abs=0.02)
    burst = [0.0] * 60 + [60.0] * 60 + [120.5] * 10  # all a rolling minute admits, at once
    assert full_minutes_share(burst, [1] * 130, 60) == 1.0
    assert full_minutes_share([0.0, 30.0], [1, 1], 60) is None  # under a minute: no figure
    assert full_minutes_share([], [], 60) is None


def test_bad_options_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--kill-at", "1.5"])
    with pytest.raises(SystemExit):
        parse_args(["--arms", "sideways"])
    assert parse_args([]).arms == ["off", "on"]
