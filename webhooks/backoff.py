"""When to retry a failed webhook delivery: one pure policy, table-tested (tests/webhooks/test_backoff.py).

Retried: connection errors, timeouts, HTTP 429 and 5xx. Not retried: any other 4xx, a 3xx (we never
follow redirects), a URL refused by the SSRF guard. The delay before attempt ``n + 1`` is the
``n``-th entry of the schedule (the last entry repeats) times a random factor in
``[1 - jitter, 1 + jitter]`` so that receivers coming back up are not hit by a synchronized burst.

The default schedule (settings ``WEBHOOK_BACKOFF_SCHEDULE_S``) follows the one Svix publishes for
Standard Webhooks (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, ...) with an extra early 30 s
step, because most failures are brief restarts: 8 attempts over about 17.6 hours.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

DEFAULT_SCHEDULE_S: tuple[float, ...] = (5, 30, 300, 1800, 7200, 18000, 36000)
DEFAULT_JITTER = 0.2
MAX_RETRY_AFTER_S = 24 * 3600


def is_retryable(status_code: int | None) -> bool:
    """Whether an attempt that ended with ``status_code`` (``None``: no answer at all) may be retried."""
    if status_code is None:
        return True
    return status_code == 429 or 500 <= status_code <= 599


def delay_s(
    attempt: int,
    *,
    schedule: Sequence[float] = DEFAULT_SCHEDULE_S,
    jitter: float = DEFAULT_JITTER,
    retry_after_s: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based) before the next one.

    ``retry_after_s`` (a receiver's ``Retry-After``, capped at one day) is honoured when it asks
    for more than the schedule. ``rand`` returns a float in [0, 1) (injectable for tests).
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if not schedule:
        return 0.0
    base = float(schedule[min(attempt, len(schedule)) - 1])
    wait = base * (1 - jitter + 2 * jitter * rand())
    if retry_after_s is not None and retry_after_s > wait:
        wait = min(float(retry_after_s), MAX_RETRY_AFTER_S)
    return max(0.0, wait)


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header given in seconds, else ``None`` (HTTP-date values are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
