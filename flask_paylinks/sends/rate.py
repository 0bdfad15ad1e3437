"""The send rate: at most ``PAYLINKS_SEND_RATE`` messages a second, across all workers.

With Redis the limit is one token bucket in Redis, taken by a Lua script, so
every worker process draws from the same bucket and the rate holds however
many workers run. Without Redis (jobs inline) the bucket lives in the
process.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from flask_paylinks.core.errors import Unavailable

# KEYS[1]: the bucket. ARGV: rate (tokens a second), burst (bucket size).
# Returns how many milliseconds to wait: 0 when a token was taken. The
# script reads Redis's own clock, so the workers' clocks do not matter.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
"""


class RateUnavailable(Unavailable):
    """The shared bucket cannot be reached (Redis is away)."""


class RateLimiter(Protocol):
    """Takes one token, waiting as long as the rate requires."""

    def take(self) -> None:
        """Return once a message may go; raise :class:`RateUnavailable`."""


class RedisTokenBucket:
    """A token bucket in Redis that every worker shares."""

    def __init__(self, connection: Any, key: str, rate: float, burst: int = 1) -> None:
        self.connection = connection
        self.key = key
        self.rate = rate
        self.burst = burst
        self._script = connection.register_script(_TAKE)

    def take(self) -> None:
        """Take a token from the shared bucket, sleeping until one is there."""
        from redis.exceptions import RedisError

        while True:
            try:
                wait_ms = int(
                    self._script(keys=[self.key], args=[self.rate, self.burst])
                )
            except RedisError as error:
                raise RateUnavailable(str(error)) from error
            if wait_ms <= 0:
                return
            time.sleep(wait_ms / 1000)


class LocalTokenBucket:
    """A token bucket for one process (jobs inline, no Redis)."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        """Take a token, sleeping until one is there."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(
                    self.burst, self._tokens + (now - self._at) * self.rate
                )
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)
