"""Periodic hooks: work beat's leader does between its ticks, registered by the app that owns it.

An app registers its hooks in its ``AppConfig.ready()`` (``register("jobs: promote delayed jobs", 0,
fn)``), so beat (``scheduling.beat``) runs them without importing any app's code. A hook is called
with ``cap`` (s, the longest beat will sleep) and may return the seconds until it next has work
(beat sleeps no longer than the smallest answer); it runs at most every ``every_s`` seconds (0: every
tick). A hook that raises is logged and called again when next due: one hook's fault never stops beat
or the other hooks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicHook:
    """One registered hook: ``every_s`` is seconds or a function returning them (read at each tick, so
    a setting changed at run time applies)."""

    name: str
    every_s: float | Callable[[], float]
    fn: Callable[[float], float | None]

    def interval_s(self) -> float:
        return float(self.every_s() if callable(self.every_s) else self.every_s)


_HOOKS: dict[str, PeriodicHook] = {}


def register(name: str, every_s: float | Callable[[], float], fn: Callable[[float], float | None]) -> None:
    """Register (or replace, by ``name``) a periodic hook; hooks run in the order first registered."""
    _HOOKS[name] = PeriodicHook(name=name, every_s=every_s, fn=fn)


def registered() -> list[PeriodicHook]:
    """The registered hooks, in registration order."""
    return list(_HOOKS.values())


class PeriodicRunner:
    """Runs the registered hooks when due; one per beat process (it remembers when each last ran)."""

    def __init__(self) -> None:
        self._last_run: dict[str, float] = {}

    def run_due(self, *, cap: float) -> float:
        """Run every hook that is due; returns the seconds beat may sleep (0 .. ``cap``). Never raises."""
        sleep = cap
        for hook in registered():
            every = hook.interval_s()
            last = self._last_run.get(hook.name)
            now = time.monotonic()
            if last is not None and now - last < every:
                sleep = min(sleep, every - (now - last))
                continue
            self._last_run[hook.name] = now
            try:
                wanted = hook.fn(cap)
            except Exception:
                logger.exception("periodic hook %r failed; it runs again when next due", hook.name)
                close_old_connections()
                wanted = None
            sleep = min(sleep, wanted if wanted is not None else every or cap)
        return max(0.0, sleep)
