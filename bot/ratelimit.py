"""Rate limits for the public endpoints: keyed sliding windows that answer "go" or "wait N s".

A ``Rate`` is "at most ``limit`` hits per ``window`` seconds". A ``Limiter`` keeps one window
per key (``rest:ip:203.0.113.7``, ``web:session:<id>``, ``login:user-ip:ana|203.0.113.7``) and
answers every ``hit()`` with a ``Verdict``: allowed, or refused with the seconds until the
oldest hit in the window ages out (the ``Retry-After`` a client is told).

``MemoryLimiter`` is the default: one process, bounded memory (the least recently used keys
are forgotten beyond ``max_keys``). Several Rasa processes behind a load balancer each count
on their own with it, so a client may get up to ``processes x limit``. ``RedisLimiter``
(``CX_RATE_REDIS_URL``) counts in one Redis for all of them, with the same answers;
``RateLimits.limiter()`` picks one.

Configuration comes from the environment (read in bot/settings.py, parsed by
``RateLimits.from_settings``), each rate written ``N/WINDOW`` with the window in seconds
or with a unit: ``30/60``, ``30/1m``, ``10/15m``, ``1000/1h``; ``off`` turns that limit off.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.settings import RATE_ENV, Settings

log = logging.getLogger(__name__)

MAX_KEYS = 100_000  # ~ 100k keys x a few dozen floats: tens of MB at worst, then LRU eviction


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` hits in any ``window`` seconds; ``limit`` 0 means no limit."""

    limit: int
    window: float

    @property
    def off(self) -> bool:
        return self.limit <= 0

    @classmethod
    def parse(cls, text: str, name: str = "rate") -> Rate:
        """``"30/60"``, ``"30/1m"``, ``"10/15m"``, ``"1000/1h"``, ``"5/2s"``, or ``"off"``."""
        raw = text.strip().lower()
        if raw in ("off", "0", "none", "unlimited"):
            return cls(0, 1.0)
        match = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|m|min|h|hour)?", raw)
        if not match or not (match.group(2) or match.group(3)):
            raise ValueError(
                f"{name}={text!r} is not a rate: write N/WINDOW, e.g. 30/60 (seconds), "
                "30/1m, 10/15m, 1000/1h, or off"
            )
        amount = float(match.group(2) or 1)
        unit = {"m": 60, "min": 60, "h": 3600, "hour": 3600}.get(match.group(3) or "s", 1)
        if amount * unit <= 0:
            raise ValueError(f"{name}={text!r}: the window must be more than 0 seconds")
        return cls(int(match.group(1)), amount * unit)

    def __str__(self) -> str:
        return "off" if self.off else f"{self.limit}/{self.window:g}s"


@dataclass(frozen=True)
class Verdict:
    """The answer to one hit: allowed, or refused for ``retry_after`` more seconds."""

    allowed: bool
    retry_after: float = 0.0

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds to wait (at least 1 when refused), as ``Retry-After`` takes them."""
        return 0 if self.allowed else max(1, math.ceil(self.retry_after))

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)


class Limiter(Protocol):
    """Where hits are counted: in this process (``MemoryLimiter``) or a shared store."""

    def hit(self, key: str, rate: Rate) -> Verdict:
        """Count one hit on ``key`` if ``rate`` allows it; a refused hit is not counted."""
        ...

    def peek(self, key: str, rate: Rate) -> Verdict:
        """Whether a hit on ``key`` would be allowed now, without counting it."""
        ...

    def reset(self, key: str) -> None:
        """Forget ``key``'s hits (a successful sign-in clears its failures)."""
        ...


class MemoryLimiter:
    """Sliding-window log per key, in this process; thread-safe; bounded to ``max_keys``.

    Each key keeps the times of its hits inside the window (at most ``limit`` of them), so
    the answer is exact: refused while ``limit`` hits are younger than ``window``, and
    ``retry_after`` is when the oldest of them ages out. ``clock`` gives seconds (monotonic
    by default; tests pass a hand-moved one).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS):
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, rate: Rate) -> Verdict:
        return self._check(key, rate, count=True)

    def peek(self, key: str, rate: Rate) -> Verdict:
        return self._check(key, rate, count=False)

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)

    def _check(self, key: str, rate: Rate, count: bool) -> Verdict:
        if rate.off:
            return ALLOWED
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is not None:
                while hits and hits[0] <= now - rate.window:
                    hits.popleft()
                self._hits.move_to_end(key)
            if hits is not None and len(hits) >= rate.limit:
                return Verdict(False, hits[-rate.limit] + rate.window - now)
            if count:
                if hits is None:
                    hits = self._hits[key] = deque()
                    while len(self._hits) > self.max_keys:
                        self._hits.popitem(last=False)  # the least recently used key
                hits.append(now)
                while len(hits) > rate.limit:  # a lowered limit: keep only what counts
                    hits.popleft()
            elif hits is not None and not hits:
                del self._hits[key]
            return ALLOWED


# One key's sliding window as a sorted set of hit times, checked and counted atomically.
# KEYS[1]: the key; ARGV: now, window, limit, count (1/0), a unique member for this hit.
# Floats go back as strings (Lua numbers in a reply are cut to integers).
_REDIS_HIT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + window - now)}
end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
return {1, '0'}
"""


class RedisLimiter:
    """The same sliding windows in Redis, shared by every process that uses ``client``.

    Each key is a sorted set of hit times that expires with its window, so Redis holds
    only live keys. ``clock`` is wall-clock seconds (processes on several machines must
    agree on it). When Redis can't be reached, hits are allowed and a warning is logged:
    a limiter outage must not take the chat down.
    """

    def __init__(
        self, client: Any, prefix: str = "cx:rate:", clock: Callable[[], float] = time.time
    ):
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self._script = client.register_script(_REDIS_HIT)
        self._warned_at = -math.inf

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisLimiter:
        """A limiter on the Redis at ``url`` (``redis://host:6379/0``); connects lazily."""
        import redis  # only the scale-out set-up needs it

        return cls(redis.Redis.from_url(url, socket_timeout=0.5), **kwargs)

    def hit(self, key: str, rate: Rate) -> Verdict:
        return self._check(key, rate, count=True)

    def peek(self, key: str, rate: Rate) -> Verdict:
        return self._check(key, rate, count=False)

    def reset(self, key: str) -> None:
        try:
            self.client.delete(self.prefix + key)
        except Exception:
            self._warn()

    def _check(self, key: str, rate: Rate, count: bool) -> Verdict:
        if rate.off:
            return ALLOWED
        now = self.clock()
        try:
            allowed, wait = self._script(
                keys=[self.prefix + key],
                args=[repr(now), repr(rate.window), rate.limit, int(count), uuid.uuid4().hex],
            )
        except Exception:
            self._warn()
            return ALLOWED
        return ALLOWED if int(allowed) else Verdict(False, float(wait))

    def _warn(self) -> None:
        if time.monotonic() - self._warned_at > 60:  # once a minute, not once a message
            self._warned_at = time.monotonic()
            log.warning("Rate limits are not counted: Redis is unreachable", exc_info=True)


def first_refusal(limiter: Limiter, checks: list[tuple[str, Rate]]) -> Verdict:
    """Count a hit on every key only if each allows it; else the longest wait among them."""
    refused = [v for v in (limiter.peek(k, r) for k, r in checks) if not v.allowed]
    if refused:
        return max(refused, key=lambda v: v.retry_after)
    verdicts = [limiter.hit(k, r) for k, r in checks]  # a race lost here refuses too
    refused = [v for v in verdicts if not v.allowed]
    return max(refused, key=lambda v: v.retry_after) if refused else ALLOWED


@dataclass(frozen=True)
class RateLimits:
    """Every rate limit of the public endpoints, and how to find a client's address.

    ``trusted_proxies``: how many reverse proxies in front of the server append to
    ``X-Forwarded-For``. 0 (the default) uses the socket's peer address and ignores the
    header, which any client could forge; with nginx in front, set 1.
    """

    conversation: Rate = Rate(30, 60)  # messages per conversation (REST sender, web session)
    ip: Rate = Rate(120, 60)  # messages per client address, all conversations together
    connect_ip: Rate = Rate(60, 60)  # website chat connections per client address
    slack_user: Rate = Rate(30, 60)  # messages per Slack user
    slack_team: Rate = Rate(600, 60)  # messages per Slack workspace
    login_failures: Rate = Rate(10, 15 * 60)  # failed sign-ins per username and address
    login_ip_failures: Rate = Rate(50, 15 * 60)  # failed sign-ins per address, any username
    trusted_proxies: int = 0
    redis_url: str = ""  # count in this Redis (shared by every process), not in memory
    max_keys: int = MAX_KEYS
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    ENV = RATE_ENV  # field -> the variable that sets it (declared in bot/settings.py)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """The limits ``settings`` sets (``CX_RATE_*``, ``CX_TRUSTED_PROXIES``,
        ``CX_RATE_REDIS_URL``); unset ones keep the defaults."""
        rates: dict[str, Any] = {
            attr: Rate.parse(text, RATE_ENV[attr]) for attr, text in settings.rates
        }
        return cls(
            **rates, trusted_proxies=settings.trusted_proxies, redis_url=settings.rate_redis_url
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateLimits:
        """``from_settings`` of the settings ``env`` (a mapping of variables) gives."""
        return cls.from_settings(Settings.from_env(env))

    def limiter(self) -> Limiter:
        """Where these limits count: the Redis of ``redis_url``, else this process's memory."""
        if self.redis_url:
            return RedisLimiter.from_url(self.redis_url)
        return MemoryLimiter(self.clock, self.max_keys)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer's, or the one the trusted proxies saw."""
        if self.trusted_proxies and forwarded_for:
            hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
            if hops:
                # Each trusted proxy appended the address it saw; anything left of them
                # came from the client and could be forged.
                return hops[max(0, len(hops) - self.trusted_proxies)]
        return peer or "unknown"
