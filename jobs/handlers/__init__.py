"""Handlers: the registry and the built-in handlers (imported here so discovery registers them)."""

from . import builtin  # noqa: F401
from .registry import Handler, all_handlers, get, handler, names

__all__ = ["Handler", "all_handlers", "get", "handler", "names"]
