"""Per-client rate limiting for the costly endpoints (token bucket, in memory only).

The client is the peer address of the ASGI scope (``scope["client"]``). Forwarded-for headers are not trusted:
behind a reverse proxy every request has the proxy's address, so limit there instead (or set it to 0 here).
Addresses live only in this process's memory, for at most ``idle_seconds`` after the client's last request,
and are never written anywhere.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

LIMITED_PATHS = ("/api/ask", "/api/search")


class TokenBucketLimiter:
    """``per_minute`` requests a minute per key, bursts up to ``burst`` (default: ``per_minute``).

    Thread-safe (one lock, O(1) work under it). Memory is bounded: a key idle long enough to have refilled
    its bucket is indistinguishable from a new one and is dropped; past ``max_clients`` the least recently
    seen key is dropped too.
    """

    def __init__(self, per_minute: int, burst: int | None = None, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive (0 means: do not install a limiter)")
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(burst or per_minute)
        self.max_clients = max_clients
        self.idle_seconds = self.capacity / self.rate  # time for an empty bucket to refill
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, last update)
        self._lock = threading.Lock()
        self._next_sweep = clock() + self.idle_seconds

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)  # re-inserted last: the dict stays in least-recent order
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def _sweep(self, now: float) -> None:
        cutoff = now - self.idle_seconds
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if last > cutoff:
                break
            del self._buckets[key]
        self._next_sweep = now + self.idle_seconds


class RateLimitMiddleware:
    """Pure ASGI middleware: 429 + ``Retry-After`` once a client exceeds its budget on ``paths``."""

    def __init__(self, app: ASGIApp, per_minute: int = 0, paths: Iterable[str] = LIMITED_PATHS,
                 limiter: TokenBucketLimiter | None = None) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.limiter = limiter or (TokenBucketLimiter(per_minute) if per_minute > 0 else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.acquire(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        message = f"Bạn đã gửi quá nhiều yêu cầu. Vui lòng thử lại sau {retry} giây."
        body = json.dumps({"error": message, "detail": message}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})
