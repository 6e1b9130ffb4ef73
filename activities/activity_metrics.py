"""Activity metrics through instruments made once per label set, not once per record.

`activity.metric_meter()` builds a meter for each attempt, and every `create_counter` and every label
dict is another call into the SDK core; the interceptor records 2 to 6 values per attempt. Here an
instrument bound to its labels (the SDK's namespace, task_queue and activity_type, plus ours) is
made on first use and reused, so a record is one call. Label sets are few (tools × outcomes, error
classes); past MAX_BOUND the instruments are still made, just not kept.
"""

from __future__ import annotations

from typing import Any, Literal

from temporalio import activity

Kind = Literal["counter", "histogram", "histogram_float"]
MAX_BOUND = 4096

_bound: dict[tuple[Any, ...], Any] = {}


def record(
    kind: Kind,
    name: str,
    value: float,
    labels: dict[str, str] | None = None,
    *,
    description: str | None = None,
    unit: str | None = None,
) -> None:
    """Add to a counter or record in a histogram, as the current activity, with these labels
    (nothing outside an activity, as the SDK's meter has none there)."""
    if not activity.in_activity():
        return
    info = activity.info()
    key = (info.namespace, info.task_queue, info.activity_type, kind, name, *sorted((labels or {}).items()))
    instrument = _bound.get(key)
    if instrument is None:
        instrument = _make(kind, name, labels, description, unit)
        if instrument is None:
            return
        if len(_bound) < MAX_BOUND:
            _bound[key] = instrument
    if kind == "counter":
        instrument.add(int(value))
    elif kind == "histogram":
        instrument.record(int(value))
    else:
        instrument.record(float(value))


def _make(
    kind: Kind, name: str, labels: dict[str, str] | None, description: str | None, unit: str | None
) -> Any:
    try:
        meter = activity.metric_meter()
    except RuntimeError:  # sync non-threaded activities have no meter; none of ours are
        return None
    if kind == "counter":
        instrument: Any = meter.create_counter(name, description, unit)
    elif kind == "histogram":
        instrument = meter.create_histogram(name, description, unit)
    else:
        instrument = meter.create_histogram_float(name, description, unit)
    return instrument.with_additional_attributes(labels) if labels else instrument
