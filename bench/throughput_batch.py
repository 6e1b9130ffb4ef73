"""A batch of bench/throughput.py: N runs of one kind, its figures and its row of the table."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bench import perf_common as pc


@dataclass
class Batch:
    label: str
    runs: int
    steps: int
    wall_s: float
    latencies: list[float]
    failures: list[str]
    worker_cpu_s: float
    server_cpu_s: float | None
    rates: tuple[float, ...] = ()  # steps/s of every repeated batch this one is the median of

    @property
    def rate(self) -> float:
        return self.steps / self.wall_s

    @classmethod
    def median(cls, parts: list[Batch]) -> Batch:
        """The batch of median steps/s (the lower of two middles), with every batch's failures."""
        ordered = sorted(parts, key=lambda b: b.rate)
        middle = ordered[(len(ordered) - 1) // 2]
        failures = [f for p in parts for f in p.failures]
        return dataclasses.replace(middle, failures=failures, rates=tuple(p.rate for p in ordered))

    def row(self, bare: Batch | None) -> list[str]:
        ratio = f"{(self.steps / self.wall_s) / (bare.steps / bare.wall_s):.2f}" if bare else "-"
        server = f"{1000 * self.server_cpu_s / self.steps:.2f}" if self.server_cpu_s is not None else "n/a"
        return [
            self.label,
            str(self.runs),
            f"{self.wall_s:.1f}",
            f"{self.runs / self.wall_s:.1f}",
            f"{self.steps / self.wall_s:.0f}",
            f"{pc.percentile(self.latencies, 0.5):.2f}",
            f"{pc.percentile(self.latencies, 0.95):.2f}",
            f"{1000 * self.worker_cpu_s / self.steps:.2f}",
            server,
            str(len(self.failures)),
            ratio,
            f"{self.rates[0]:.0f}–{self.rates[-1]:.0f} ({len(self.rates)})" if len(self.rates) > 1 else "-",
        ]


HEADER = [
    "",
    "N",
    "wall s",
    "runs/s",
    "steps/s",
    "p50 s",
    "p95 s",
    "worker cpu ms/step",
    "server cpu ms/step",
    "failures",
    "ours/bare steps/s",
    "steps/s min–max (batches)",
]
