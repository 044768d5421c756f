"""The schedule definition: one typed value, made once from API JSON, form fields or admin input.

:class:`ScheduleDefinition` (handler ``name``, ``data``, ``options`` and a :class:`ScheduleTiming`)
is what the schedule services take. Two entry points make it, one rule set behind both:

* :func:`definition_parse` reads the API's JSON (``{name, data, schedule, options}``): the shape of the
  ``schedule`` object (its keys, BullMQ's aliases ``pattern`` and flat ``every``/``offset``, the
  ``repeat`` object, instants as ISO 8601 or epoch ms), then
* :func:`definition_build` checks the values (the handler, data and options, the cadence, bounds and
  BullMQ's ``offset``/``immediately`` rules). The page and admin forms call it with their cleaned
  fields directly.

Every refusal is a :class:`DefinitionError`: a ``ValidationError`` keyed by the API's JSON path
(``schedule.cron``), with a stable ``code``; ``DefinitionError.field`` is the definition's field
(``cron_expression``), declared beside each field (``metadata["path"]``), which is where a form puts
the message. ``scheduling/cron.py`` stays the one home of cron and time-zone validation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs import named_queues
from jobs.submission import validate_job_input

from . import cron
from .models import Overlap, ScheduleKind

MAX_EVERY_MS = 10 * 365 * 24 * 3600 * 1000
MAX_LIMIT = 2**31 - 1
# Instants a schedule may name: the calendar of Python's datetime (years 1-9999) less a day at each end,
# so that reading an instant in any time zone (offsets up to ±14 h) and stepping past it stay inside it.
MIN_INSTANT = datetime(1, 1, 2, tzinfo=UTC)
MAX_INSTANT = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def now_ms() -> datetime:
    """Now (aware UTC) in whole milliseconds, the precision of BullMQ's times and of ``repeat:`` job ids.

    New interval grids and immediate fires start here, so a fire's time is exactly the ms of its id.
    """
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _path(path: str) -> dict[str, str]:
    return {"path": path}


@dataclass(frozen=True, kw_only=True)
class ScheduleTiming:
    """When a schedule fires: its cadence (one of a cron expression in a time zone, an interval of
    ``every_ms`` ms with BullMQ's ``offset_ms``, or one instant ``at``), its bounds (``start_at``,
    ``end_at``: aware UTC; ``limit`` runs) and ``overlap``. ``immediately`` (BullMQ) is not stored:
    True when this write asks a cron schedule for one run at once.

    Each field's ``metadata["path"]`` is its key in the API's JSON, the key its errors carry.
    """

    kind: ScheduleKind
    cron_expression: str = field(default="", metadata=_path("schedule.cron"))
    time_zone: str = field(default="UTC", metadata=_path("schedule.tz"))
    every_ms: int | None = field(default=None, metadata=_path("schedule.repeat.every"))
    offset_ms: int | None = field(default=None, metadata=_path("schedule.offset"))
    at: datetime | None = field(default=None, metadata=_path("schedule.at"))
    start_at: datetime | None = field(default=None, metadata=_path("schedule.startDate"))
    end_at: datetime | None = field(default=None, metadata=_path("schedule.endDate"))
    limit: int | None = field(default=None, metadata=_path("schedule.limit"))
    overlap: Overlap = field(default=Overlap.ALLOW, metadata=_path("schedule.overlap"))
    immediately: bool = field(default=False, metadata=_path("schedule.immediately"))

    def model_fields(self) -> dict[str, Any]:
        """The ``Schedule`` model's field values (all but ``immediately``)."""
        values = dataclasses.asdict(self)
        values.pop("immediately")
        return values


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # a definition value that leaves the stored one as it is


@dataclass(frozen=True, kw_only=True)
class ScheduleDefinition:
    """Everything a client defines about a schedule: the job it makes and when (:class:`ScheduleTiming`).

    ``options`` are the job options as given (stored with the schedule; each fire merges them
    again). To give schedules one more setting (say ``queue``): add a field here named like the
    ``Schedule`` model's, with its JSON path (``metadata=_path("queue")``) and a default, accept and
    check it in :func:`definition_build` (and read it in :func:`definition_parse`), and let the forms
    pass their field; the services store every field (:meth:`model_fields`).
    """

    name: str = field(metadata=_path("name"))
    data: Any = field(default=None, metadata=_path("data"))
    options: dict[str, Any] = field(default_factory=dict, metadata=_path("options"))
    queue: str = field(default_factory=named_queues.default, metadata=_path("queue"))
    # The child jobs of the flow each fire creates (docs/flows.md; checked with the owner by the
    # services, ``flows.services.schedule_flow_check``); None: a plain schedule; KEEP: a write that
    # does not show the flow (page and admin edits) leaves the stored one as it is.
    flow: Any = field(default=None, metadata=_path("flow"))
    timing: ScheduleTiming

    def model_fields(self) -> dict[str, Any]:
        """The ``Schedule`` model's field values: this definition's fields and its timing's (a
        ``flow`` of ``KEEP`` is left out)."""
        values = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "timing" and getattr(self, f.name) is not KEEP
        }
        return {**values, **self.timing.model_fields()}


# JSON path → the definition's field, as declared on the fields (``repeat`` and its keys land on the
# interval, where a form enters them).
FIELD_OF_PATH: dict[str, str] = {
    **{
        f.metadata["path"]: f.name
        for cls in (ScheduleTiming, ScheduleDefinition)
        for f in dataclasses.fields(cls)
        if "path" in f.metadata
    },
    "schedule.repeat": "every_ms",
}


class DefinitionError(ValidationError):
    """A refused definition: ``{path: [message]}`` with a stable ``code``; ``field`` is the
    definition's field the path names (``None`` for the definition as a whole, ``schedule``)."""

    def __init__(self, path: str, message: str, code: str = "invalid") -> None:
        super().__init__({path: [ValidationError(message, code=code)]})
        self.path = path
        self.code = code
        self.field = FIELD_OF_PATH.get(path)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _instant(value: datetime, path: str) -> datetime:
    """An aware datetime as UTC, refused outside :data:`MIN_INSTANT` .. :data:`MAX_INSTANT`."""
    try:
        utc: datetime | None = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not MIN_INSTANT <= utc <= MAX_INSTANT:
        raise DefinitionError(
            path, f"{path}: must be between 0001-01-02T00:00:00Z and 9999-12-30T23:59:59Z", "out_of_range"
        )
    return utc


def parse_instant(value: object, field: str) -> datetime | None:
    """An ISO 8601 string with an offset or ``Z``, or epoch milliseconds, as an aware UTC datetime.

    The one parser of the instants of the API (``at``, ``startDate``, ``endDate``, preview ``from``).
    ``None`` for ``None`` (or the key left out). Raises :class:`DefinitionError` keyed by ``field`` for
    anything else that is not an instant with an offset between :data:`MIN_INSTANT` and
    :data:`MAX_INSTANT` (``0001-01-01T00:00:00+01:00`` is before year 1 in UTC), ``""`` included,
    as the OpenAPI document says (a date-time or epoch milliseconds).
    """
    if value is None:
        return None
    if value == "":
        raise DefinitionError(field, f"{field}: must be an ISO 8601 date-time with an offset or Z")
    if _is_int(value):
        try:
            parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise DefinitionError(
                field, f"{field}: {str(value)[:40]} is not a valid epoch-milliseconds time"
            ) from None
        return _instant(parsed, field)
    if not isinstance(value, str):
        raise DefinitionError(field, f"{field}: must be an ISO 8601 date-time string or epoch milliseconds")
    try:
        local = parse_datetime(value.strip())
    except ValueError:
        local = None
    if local is None:
        raise DefinitionError(
            field, f"{field}: '{value[:60]}' is not an ISO 8601 date-time (e.g. 2030-07-01T00:00:00Z)"
        )
    if local.tzinfo is None:
        raise DefinitionError(
            field, f"{field}: '{value[:60]}' needs a UTC offset or Z (e.g. 2030-07-01T00:00:00Z)"
        )
    return _instant(local, field)


# --- the API's JSON ------------------------------------------------------------------------------------

# The keys of the ``schedule`` object and of its ``repeat`` object (BullMQ's names).
SPEC_KEYS = frozenset(
    {
        "cron",
        "pattern",
        "tz",
        "repeat",
        "every",
        "offset",
        "immediately",
        "at",
        "startDate",
        "endDate",
        "limit",
        "overlap",
    }
)
REPEAT_KEYS = frozenset({"every", "limit", "offset"})
_SHAPE = {
    "schedule": "with one of cron, repeat or at",
    "schedule.repeat": "{every, limit?, offset?}",
}


def _check_object(value: object, path: str, allowed: frozenset[str]) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise DefinitionError(path, f"{path}: must be an object {_SHAPE[path]}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise DefinitionError(
            path, f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return value


def _one_of(path: str, first: tuple[str, object], second: tuple[str, object], message: str) -> object:
    """The value of whichever of two spellings of a key is given; refused when both are."""
    if first[1] is not None and second[1] is not None:
        raise DefinitionError(path, message)
    return first[1] if first[1] is not None else second[1]


def timing_values(raw: object) -> dict[str, Any]:
    """The ``schedule`` object's values under :class:`ScheduleTiming`'s field names, unchecked but
    for the object's shape: its keys, one spelling of each (``cron``/``pattern``, ``every`` at the
    top or in ``repeat``, ``offset`` likewise), one cadence, and instants parsed (:func:`parse_instant`).
    """
    spec = _check_object(raw, "schedule", SPEC_KEYS)
    expression = _one_of(
        "schedule",
        ("cron", spec.get("cron")),
        ("pattern", spec.get("pattern")),
        "schedule: give cron or pattern (BullMQ's name for it), not both",
    )
    repeat: Mapping[str, object] | None = None
    if spec.get("repeat") is not None:
        repeat = _check_object(spec["repeat"], "schedule.repeat", REPEAT_KEYS)
        if spec.get("every") is not None:
            raise DefinitionError(
                "schedule.every", "schedule.every: give every either at the top or in repeat, not both"
            )
    elif spec.get("every") is not None:
        repeat = {"every": spec["every"]}  # BullMQ's flat repeat options
    cadences = {ScheduleKind.CRON: expression, ScheduleKind.EVERY: repeat, ScheduleKind.AT: spec.get("at")}
    kinds = [kind for kind, value in cadences.items() if value is not None]
    if len(kinds) != 1:
        raise DefinitionError("schedule", "schedule: give exactly one of cron, repeat (with every) or at")
    repeat = repeat or {}
    limit = spec.get("limit")
    if repeat.get("limit") is not None:
        # repeat.limit wins, but a bad top-level value is refused, never ignored.
        _limit(limit)
        limit = repeat["limit"]
    return {
        "kind": kinds[0],
        "cron_expression": expression,
        "time_zone": spec.get("tz"),
        "every_ms": repeat.get("every"),
        "offset_ms": _one_of(
            "schedule.offset",
            ("offset", spec.get("offset")),
            ("repeat.offset", repeat.get("offset")),
            "schedule.offset: give offset either at the top or in repeat, not both",
        ),
        "start_at": parse_instant(spec.get("startDate"), "schedule.startDate"),
        "end_at": parse_instant(spec.get("endDate"), "schedule.endDate"),
        "at": parse_instant(spec.get("at"), "schedule.at"),
        "limit": limit,
        "overlap": spec.get("overlap"),
        "immediately": spec.get("immediately"),
    }


def timing_parse(raw: object, *, now: datetime) -> ScheduleTiming:
    """The API's ``schedule`` object as a :class:`ScheduleTiming` (``now``: aware UTC, the write's instant).

    ``raw`` is exactly one of ``{cron, tz?}`` (BullMQ's ``pattern`` is the same key),
    ``{repeat: {every, limit?, offset?}}`` (``every``/``offset`` may also sit at the top, BullMQ's flat
    repeat options) or ``{at}``, plus optional ``startDate``, ``endDate``, ``limit``, ``overlap``
    ("allow" | "skip") and ``immediately``. Raises :class:`DefinitionError` keyed by the JSON path.
    """
    return timing_build(now=now, **timing_values(raw))


def definition_parse(
    *,
    name: object = None,
    data: object = None,
    options: object = None,
    schedule: object = None,
    queue: object = None,
    flow: object = None,
    now: datetime,
) -> ScheduleDefinition:
    """The API's ``{name, data, schedule, options, queue}`` as a :class:`ScheduleDefinition`: the
    handler, data and options are checked first (``jobs.submission.validate_job_input``), then the
    ``schedule`` object (:func:`timing_parse`), then the queue. Raises ``ValidationError`` keyed by the
    JSON path (``PayloadTooLargeError`` for data over ``JOB_MAX_DATA_BYTES``)."""
    return definition_build(
        name=name,
        data=data,
        options=options,
        queue=queue,
        flow=flow,
        timing=lambda: timing_parse(schedule, now=now),
    )


def definition_build(
    *,
    name: object,
    data: object,
    options: object,
    timing: Callable[[], ScheduleTiming],
    queue: object = None,
    flow: object = KEEP,
) -> ScheduleDefinition:
    """A :class:`ScheduleDefinition` from its values: ``name``, ``data`` and ``options`` are checked as a
    job's (``options.jobId`` is refused: each run gets its own id), then ``timing`` is called (so its
    errors come after theirs), then ``queue`` (a declared queue, ``None``: ``JOB_DEFAULT_QUEUE``;
    ``jobs.named_queues.validate``). Raises ``ValidationError`` keyed by the JSON path."""
    validate_job_input(name=name, data=data, options=options)
    if isinstance(options, dict) and "jobId" in options:
        raise DefinitionError(
            "options", "options.jobId: not allowed on a schedule; each run gets its own job id"
        )
    assert isinstance(name, str)  # validate_job_input refuses anything else
    checked_timing = timing()
    return ScheduleDefinition(
        name=name,
        data=data,
        options=dict(options) if isinstance(options, dict) else {},
        queue=named_queues.validate(queue),
        flow=flow,
        timing=checked_timing,
    )


# --- the rules -----------------------------------------------------------------------------------------


def _limit(value: object) -> int | None:
    if value is not None and (not _is_int(value) or not 1 <= value <= MAX_LIMIT):
        raise DefinitionError(
            "schedule.limit", "schedule.limit: must be an integer >= 1 (the number of runs)"
        )
    return value


def _overlap(value: object) -> Overlap:
    if value is None:
        return Overlap.ALLOW
    if value not in Overlap.values:  # {} or "" used to pass as "allow"
        raise DefinitionError("schedule.overlap", "schedule.overlap: must be 'allow' or 'skip'")
    return Overlap(str(value))


def _time_zone(value: object) -> str:
    if value is not None and not isinstance(value, str):
        raise DefinitionError(
            "schedule.tz", "schedule.tz: must be an IANA time zone name such as 'Europe/Berlin'"
        )
    try:
        return cron.validate_time_zone(value or "UTC").key
    except cron.CronError as exc:
        raise DefinitionError("schedule.tz", f"schedule.{exc}", exc.code) from None


def _cron(value: object, time_zone: str) -> str:
    if not isinstance(value, str):
        raise DefinitionError(
            "schedule.cron", "schedule.cron: must be a cron expression string such as '0 0 * * *'"
        )
    try:
        return cron.validate_cron(value, time_zone)
    except cron.CronError as exc:
        raise DefinitionError("schedule.cron", f"schedule.{exc}", exc.code) from None


def _every(value: object) -> int:
    minimum = settings.SCHEDULE_MIN_EVERY_MS
    if not _is_int(value) or not minimum <= value <= MAX_EVERY_MS:
        raise DefinitionError(
            "schedule.repeat.every",
            "schedule.repeat.every: must be an integer number of milliseconds"
            f" between {minimum} and {MAX_EVERY_MS}",
        )
    return value


def _at(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        raise DefinitionError("schedule", "schedule: give exactly one of cron, repeat (with every) or at")
    value = _instant(value, "schedule.at")
    if value <= now:
        raise DefinitionError("schedule.at", "schedule.at: must be in the future")
    return value


def _bounds(start: datetime | None, end: datetime | None, now: datetime) -> None:
    if end is None:
        return
    if start is not None and end <= start:
        raise DefinitionError("schedule.endDate", "schedule.endDate: must be after startDate")
    if end <= now:
        raise DefinitionError("schedule.endDate", "schedule.endDate: must be in the future")


def _offset(value: object, every_ms: int | None, start_at: datetime | None) -> int | None:
    """BullMQ's ``offset`` (ms, 0 <= offset < every): ``None`` for absent or 0 (BullMQ: no offset)."""
    if value is None or (_is_int(value) and value == 0):
        return None
    if every_ms is None:
        raise DefinitionError(
            "schedule.offset", "schedule.offset: applies to an interval (repeat.every) only"
        )
    if not _is_int(value) or not 0 <= value < every_ms:
        raise DefinitionError(
            "schedule.offset",
            "schedule.offset: must be an integer number of milliseconds"
            f" from 0 to every - 1 ({every_ms - 1})",
        )
    if start_at is not None:
        raise DefinitionError(
            "schedule.offset",
            "schedule.offset: cannot be combined with startDate, which anchors the interval's fire times",
        )
    return value


def _immediately(value: object, kind: ScheduleKind, start_at: datetime | None) -> bool:
    """BullMQ's ``immediately``: True when a cron schedule asks for one run at once on this write."""
    if value is None or value is False:
        return False
    if value is not True:
        raise DefinitionError("schedule.immediately", "schedule.immediately: must be true or false")
    if start_at is not None:
        # BullMQ: "Both .immediately and .startDate options are defined for this repeatable job"
        raise DefinitionError(
            "schedule.immediately", "schedule.immediately: cannot be combined with startDate"
        )
    if kind == ScheduleKind.AT:
        raise DefinitionError(
            "schedule.immediately", "schedule.immediately: applies to cron and repeat, not to at"
        )
    return kind == ScheduleKind.CRON


def timing_build(
    *,
    kind: ScheduleKind | str,
    now: datetime,
    cron_expression: object = None,
    time_zone: object = None,
    every_ms: object = None,
    offset_ms: object = None,
    at: datetime | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    limit: object = None,
    overlap: object = None,
    immediately: object = None,
) -> ScheduleTiming:
    """A :class:`ScheduleTiming` from values as entered (``kind`` says which cadence value counts;
    instants aware, any zone; ``now`` aware UTC), every rule checked in a fixed order: ``overlap``,
    ``limit``, the time zone, the cadence (a cron expression Vixie cron would fire, in that zone:
    ``scheduling.cron``; ``every`` between ``SCHEDULE_MIN_EVERY_MS`` and 10 years; ``at`` in the
    future), ``endDate`` after ``startDate`` and in the future, then BullMQ's ``offset`` (an
    interval's, below ``every``, not with ``startDate``) and ``immediately`` (not with ``startDate``,
    not for ``at``; a no-op for ``every``, which runs at once anyway). Raises :class:`DefinitionError`.
    """
    kind = ScheduleKind(kind)
    start = None if start_at is None else _instant(start_at, "schedule.startDate")
    end = None if end_at is None else _instant(end_at, "schedule.endDate")
    checked_overlap = _overlap(overlap)
    checked_limit = _limit(limit)
    zone = _time_zone(time_zone)
    cadence: dict[str, Any] = {}
    if kind == ScheduleKind.CRON:
        cadence["cron_expression"] = _cron(cron_expression, zone)
    elif kind == ScheduleKind.EVERY:
        cadence["every_ms"] = _every(every_ms)
    else:
        cadence["at"] = _at(at, now)
    _bounds(start, end, now)
    return ScheduleTiming(
        kind=kind,
        time_zone=zone,
        start_at=start,
        end_at=end,
        limit=checked_limit,
        overlap=checked_overlap,
        offset_ms=_offset(offset_ms, cadence.get("every_ms"), start),
        immediately=_immediately(immediately, kind, start),
        **cadence,
    )
