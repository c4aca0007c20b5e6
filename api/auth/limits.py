"""Per-principal rate limiting: a token bucket per caller, refilled continuously."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, max_callers: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(per_minute, 1))
        self.max_callers = max_callers
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def admit(self, caller: str) -> float:
        """0 when the call may go ahead; otherwise the seconds to wait before the next one."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens < 1:
                self._buckets[caller] = (tokens, now)
                return (1 - tokens) / self.rate
            if len(self._buckets) >= self.max_callers and caller not in self._buckets:
                self._buckets.clear()  # bounded memory; forgetting buckets only ever admits
            self._buckets[caller] = (tokens - 1, now)
            return 0.0
