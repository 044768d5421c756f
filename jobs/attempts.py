"""The attempt history of a job: one entry per finished attempt, kept on the job (``attempt_history``).

Every path that ends an attempt (completed, failed and retried, failed for good, cancelled while
active, taken over by the reconciler) writes the list returned by :func:`with_attempt` in the same
conditional UPDATE that ends the attempt, so an entry exists exactly when the attempt's outcome was
stored. The worker holds the row's current list from its claim, and no other writer touches the
row while the attempt owns it (every write is conditional on ``state=active`` and the attempt
number), so appending in Python is safe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The newest entries kept per job; a job retried without end must not grow its row without bound.
MAX_ENTRIES = 100


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def attempt_entry(
    *, attempt: int, started_at: datetime | None, finished_at: datetime, outcome: str, reason: str = ""
) -> dict[str, Any]:
    """``{attempt, startedAt, finishedAt, durationMs, outcome, reason}`` of one attempt.

    ``outcome`` is ``completed``, ``failed`` (this attempt failed; the job may be retried),
    ``cancelled`` or ``stalled`` (its worker died; the next run keeps the attempt number); times
    are ISO 8601 UTC; ``durationMs`` is ``None`` when the start is unknown.
    """
    duration = int((finished_at - started_at).total_seconds() * 1000) if started_at else None
    return {
        "attempt": attempt,
        "startedAt": _iso(started_at),
        "finishedAt": _iso(finished_at),
        "durationMs": duration,
        "outcome": outcome,
        "reason": reason or None,
    }


def with_attempt(job, *, attempt: int, finished_at: datetime, outcome: str, reason: str = "") -> list[dict]:
    """``job.attempt_history`` with attempt ``attempt``'s entry appended (the newest ``MAX_ENTRIES``).

    ``job.started_at`` is the start of the attempt being ended (the claim sets it per attempt).
    Pure: the caller writes the list in the UPDATE that ends the attempt.
    """
    history = list(job.attempt_history) if isinstance(job.attempt_history, list) else []
    history.append(
        attempt_entry(
            attempt=attempt,
            started_at=job.started_at,
            finished_at=finished_at,
            outcome=outcome,
            reason=reason,
        )
    )
    return history[-MAX_ENTRIES:]
