"""Which database errors are the database being busy or away, not a bug: worth a retry.

Shared by the API's error handler (503 with ``Retry-After`` instead of a 500) and the Celery tasks
(a quick retry of the message instead of leaving the job for the reconciler). Imports nothing of
Django's settings, so ``config.celery`` can use it before Django is set up.
"""

from __future__ import annotations

import sqlite3

from django.db import InterfaceError, OperationalError

# SQLSTATE classes/codes of PostgreSQL that mean "try again": 08 connection exception, 53 insufficient
# resources (53300 too many connections), 57P01-57P03 shutdown/cannot connect now, 40001/40P01
# serialization failure/deadlock, 55P03 lock not available.
_TRANSIENT_CLASSES = ("08", "53")
_TRANSIENT_CODES = {"57P01", "57P02", "57P03", "40001", "40P01", "55P03"}


def is_transient_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` (a Django database error) is a connection or contention problem.

    True for: no connection to be had (refused, "too many clients", a psycopg pool timeout), a
    connection lost mid-use, PostgreSQL shutting down, serialization failures, deadlocks, lock
    timeouts, and SQLite's "database is locked" / "busy". False for everything else (a bad query,
    a missing table, a constraint), which stays a 500 and a logged error.
    """
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        text = str(cause).lower()
        return "locked" in text or "busy" in text
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        # psycopg: errors raised while connecting or by the pool carry no SQLSTATE.
        return cause is not None and type(cause).__module__.startswith(("psycopg", "psycopg_pool"))
    return sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_CODES
