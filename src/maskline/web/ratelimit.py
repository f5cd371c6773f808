"""MASKLINE_RATE_LIMIT_RPS: a token bucket per account, in each process.

An account may make `rate` requests a second on average and bursts of five times as many, the
ratio of Twilio's own Proxy limits (30 a second, bursts of 150). Each process keeps its own
buckets: with N API processes behind one address an account gets up to N times the rate.
"""

from __future__ import annotations

import time

BURST = 5
# Buckets kept at most; full ones are dropped first, which costs their accounts nothing.
MAX_BUCKETS = 100_000


class RateLimiter:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = rate * BURST
        self._buckets: dict[str, tuple[float, float]] = {}  # account: (tokens, at)

    def wait_s(self, account_sid: str) -> float:
        """0 when the request may go ahead (its token is taken), else the seconds until the
        account has a token again."""
        now = time.monotonic()
        tokens, at = self._buckets.get(account_sid, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[account_sid] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) >= MAX_BUCKETS and account_sid not in self._buckets:
            self._prune(now)
        self._buckets[account_sid] = (tokens - 1, now)
        return 0.0

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.rate
        for key in [k for k, (_, at) in self._buckets.items() if now - at >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
