"""Exceptions a handler raises or sees (BullMQ's names where BullMQ has one)."""


class JobCancelled(Exception):
    """Raised inside a handler by ``ctx.check_cancelled()`` when its job was cancelled."""


class UnrecoverableError(Exception):
    """Raise from a handler to fail the job at once, without the remaining attempts (BullMQ's name)."""
