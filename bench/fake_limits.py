"""Provider-side quotas of the fake provider: the seam where requests and tokens per minute are enforced.

A quota answers how long the caller must wait; the server turns that into HTTP 429 with Retry-After,
as hosted providers do. `WindowLimits` is a rolling minute; another policy (a token bucket, a quota
per API key) only needs `admit`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol


class Limits(Protocol):
    """A provider-side quota: seconds the caller must wait (answered as 429), or None to admit."""

    def admit(self, tokens: int, now: float) -> float | None: ...


@dataclass
class WindowLimits:
    """Requests and tokens per rolling minute; an admitted request counts at once, as providers do."""

    rpm: int | None = None
    tpm: int | None = None
    window_s: float = 60.0
    _seen: deque[tuple[float, int]] = field(default_factory=deque)

    def admit(self, tokens: int, now: float) -> float | None:
        while self._seen and self._seen[0][0] <= now - self.window_s:
            self._seen.popleft()
        waits = []
        if self.rpm is not None and len(self._seen) >= self.rpm:
            waits.append(self._seen[len(self._seen) - self.rpm][0] + self.window_s - now)
        if self.tpm is not None and sum(t for _, t in self._seen) + tokens > self.tpm:
            waits.append(self._wait_for_tokens(self.tpm, tokens, now))
        if waits:
            return max(waits)
        self._seen.append((now, tokens))
        return None

    def _wait_for_tokens(self, tpm: int, tokens: int, now: float) -> float:
        """Until enough of the window has expired for `tokens` to fit (a full window if they never do)."""
        used = sum(t for _, t in self._seen)
        for at, spent in self._seen:
            used -= spent
            if used + tokens <= tpm:
                return at + self.window_s - now
        return self.window_s
