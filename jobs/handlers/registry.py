"""The handler registry: job names mapped to plain Python callables.

A handler is ``fn(data, ctx) -> result`` where ``data`` is the job's JSON data and ``ctx`` a
:class:`jobs.handlers.context.JobContext`. Register with the :func:`handler` decorator; modules are
found by :func:`autodiscover` (each installed app's ``handlers`` module plus ``JOB_HANDLER_MODULES``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class Handler:
    """A registered handler: ``name``, one-line ``description``, optional JSON Schema for ``data``."""

    name: str
    fn: Callable[..., Any]
    description: str = ""
    schema: dict | None = field(default=None)


_registry: dict[str, Handler] = {}


def handler(name: str, *, description: str = "", schema: dict | None = None):
    """Decorator registering ``fn`` under ``name``; the description defaults to the docstring's first line."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip().splitlines()
        summary = description or (doc[0] if doc else "")
        _registry[name] = Handler(name=name, fn=fn, description=summary, schema=schema)
        return fn

    return decorate


def get(name: str) -> Handler | None:
    """The handler registered as ``name``, or the one ``JOB_HANDLER_ALIASES`` maps ``name`` onto
    (e.g. ``exampleJob=echo`` for the original's clients); ``None`` if neither exists."""
    found = _registry.get(name)
    if found is None:
        target = getattr(settings, "JOB_HANDLER_ALIASES", {}).get(name)
        found = _registry.get(target) if target else None
    return found


def all_handlers() -> list[Handler]:
    return sorted(_registry.values(), key=lambda h: h.name)


def names() -> list[str]:
    return sorted(_registry)


def autodiscover() -> None:
    """Import every installed app's ``handlers`` module and the modules in ``JOB_HANDLER_MODULES``."""
    autodiscover_modules("handlers")
    for module in getattr(settings, "JOB_HANDLER_MODULES", []):
        importlib.import_module(module)
