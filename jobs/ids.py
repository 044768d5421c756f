"""Job ids as clients see them (BullMQ's job ids) and how a path id is read. Pure functions, no ORM.

A job has one public id (``Job.public_id``, the ``id``/``jobId`` of its JSON and events), chosen as
BullMQ chooses a job's id:

* its custom ``options.jobId`` when it has one (BullMQ: "the jobId option ... is the job's id");
* for the job of a schedule fire, ``repeat:<schedulerId>:<fire time in epoch ms>`` (BullMQ's id of a
  job scheduler's jobs, ``getSchedulerNextJobId``), so a client can derive and de-duplicate it;
* otherwise the numeric id (the row's primary key), as BullMQ's counter ids.

A path id (``GET /jobs/{jobId}`` and the websocket's ``jobId``) is read in this order:

1. integer form (``42``, no sign, no leading zero) → the numeric id, always. BullMQ refuses such
   custom ids ("Custom Id cannot be integers"); we still accept ``options.jobId: 42`` as an
   idempotency key, but such a job is addressed and shown by its numeric id;
2. ``repeat:<schedulerId>:<ms>`` → the fire's job; if there is none, a custom id equal to the text
   (new custom ids of that shape are refused, so only older rows can have one);
3. anything else → the custom id.

A custom id that cannot be an address (integer form, the ``repeat:`` shape, or a ``/``, which a URL
path cannot carry) leaves the job on its numeric id. The API's own words under ``/jobs/`` win over a
custom id equal to them: ``GET /jobs/handlers`` lists handlers, ``/jobs/schedule`` is the schedules
(the original's ``/jobs/:jobId`` skipped ``schedule`` the same way); such a job is reached by its
number.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
INTEGER_ID = re.compile(r"0|-?[1-9][0-9]*")
# BullMQ's scheduler ids may themselves contain colons ("tenant:region:task"): the time is the last part.
REPEAT_ID = re.compile(r"repeat:(?P<scheduler_id>.+):(?P<ms>[0-9]{1,15})")
MAX_PK = 2**63 - 1


def epoch_ms(value: datetime) -> int:
    """Whole milliseconds since the Unix epoch of an aware datetime (exact integer arithmetic)."""
    return (value - EPOCH) // ONE_MS


def from_epoch_ms(ms: int) -> datetime:
    """The aware UTC instant ``ms`` milliseconds after the Unix epoch."""
    return EPOCH + ms * ONE_MS


def repeat_job_id(scheduler_id: str, fire_at: datetime) -> str:
    """``repeat:<schedulerId>:<fire time in epoch ms>``: BullMQ's id of a job scheduler's job."""
    return f"repeat:{scheduler_id}:{epoch_ms(fire_at)}"


def parse_repeat_job_id(text: str) -> tuple[str, datetime] | None:
    """``(schedulerId, fire time)`` of a ``repeat:`` id, or ``None`` if ``text`` is not one."""
    match = REPEAT_ID.fullmatch(text)
    if match is None:
        return None
    return match["scheduler_id"], from_epoch_ms(int(match["ms"]))


def integer_id(text: str) -> int | None:
    """The numeric id ``text`` names when it is in integer form, else ``None`` (rule 1 above).

    Integers outside 1..2**63-1 name no job; they still return a number (callers answer 404). One of
    more than 20 characters is returned as ``MAX_PK + 1`` unread: ``int()`` refuses 4,301+ digits.
    """
    if not INTEGER_ID.fullmatch(text):
        return None
    return int(text) if len(text) <= 20 else MAX_PK + 1


def is_addressable_key(key: str) -> bool:
    """Whether a custom ``jobId`` can be the job's public id (module docstring)."""
    return bool(key) and "/" not in key and not INTEGER_ID.fullmatch(key) and not REPEAT_ID.fullmatch(key)
