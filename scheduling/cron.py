"""Cron and time-zone validation and fire-time maths: the one home for schedule rules.

The REST API, the page forms, Django admin, the preview endpoint and the Celery beat scheduler
all call this module, so a schedule previews exactly as beat will run it. No Django imports.

Cron dialect (parsing and iteration by ``cronsim`` 2.8, Debian-cron semantics)
    * 5 fields ``minute hour day-of-month month day-of-week`` or 6 with a LEADING seconds field.
      Names (JAN-DEC, SUN-SAT, case-insensitive), ranges, steps, lists; day-of-week 0 and 7 are Sunday.
    * Macros ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
      ``@hourly`` are expanded to their 5-field forms here (cronsim does not know them).
    * ``L`` (last day of month), ``LW`` (last weekday of month), ``nL`` in day-of-week (last
      Friday = ``5L``), ``n#k`` (k-th weekday of the month, k = 1-5): cronsim.
    * ``nW`` (the weekday nearest day n, never leaving the month; Quartz ``CronTrigger`` rule):
      cronsim lacks it, so ``_NearestWeekdaySim`` adds it as one extra day-of-month match.
    * Day-of-month vs day-of-week (crontab(5), Vixie/Debian cron): if either field starts with
      ``*`` (``*/2`` included) a day must match both; otherwise a day matches if EITHER field
      matches (``0 9 1 * MON`` = the 1st of each month and every Monday).

Never-firing expressions are refused (code ``never_fires``): first a calendar check gives a
precise message ("day-of-month 30 never occurs in February"); then cronsim's own day matcher is
run over every distinct month layout (see ``_matches_some_day``), which proves whether any date
can ever match. cronsim itself only notices "never" by giving up after 50 years of search
(StopIteration), which can take ~25 ms. A refusal costs at most ~2 ms; results are cached.

Daylight saving (cron(8) on Debian, "Daylight Saving Time and other time changes"):
    * Wall-clock jobs, whose minute AND hour fields do not start with ``*`` (``30 2 * * *``,
      ``0 9-17 * * *``, ``0 30 2 * * *``), are matched on local wall-clock time:
      a time skipped by a spring-forward jump fires ONCE, at the first instant after the jump
      (02:30 on a Europe/Berlin spring night fires at 03:00 CEST); a time that occurs twice at
      fall-back fires ONCE, at its FIRST occurrence. cronsim only does this for 5-field
      expressions; we apply the same rule to 6-field ones, because a seconds field does not
      change what ``0 30 2 * * *`` means.
    * Every other expression (minute or hour starting with ``*``: ``*/15 * * * *``, ``0 * * * *``,
      ``@hourly``, ``*/30 2 * * *``) runs on real elapsed time: it fires whenever the local
      clock shows a matching time. ``*/15 * * * *`` therefore fires every 15 real minutes through
      both nights, including both passes of a repeated hour (8 fires from 02:00 CEST to 02:45 CET)
      and with no hole at the jump. The consequence Debian accepts: ``*/30 2 * * *`` does not fire
      on the spring-forward night (02:xx never exists) and fires in both passes at fall-back.
    * Fire times are always returned as aware UTC datetimes, strictly increasing.

Time zones are IANA names checked against the zone database (``zoneinfo.available_timezones``);
``None`` or a blank name means UTC. Interval schedules are anchored: fire k is at
``anchor + k * every`` (k >= 0), computed with exact integer ``timedelta`` arithmetic.
"""

from __future__ import annotations

import abc
import calendar
import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from celery.schedules import BaseSchedule, ParseException, crontab_parser, schedstate
from cron_descriptor import DescriptionTypeEnum, ExpressionDescriptor, Options
from cronsim.cronsim import RANGES, CronSim, CronSimError, Field

__all__ = [
    "CronError",
    "CronSchedule",
    "celery_crontab_fields",
    "IntervalSchedule",
    "MACROS",
    "cron_fire_times",
    "describe_cron",
    "describe_interval",
    "interval_fire_times",
    "next_cron_fire",
    "validate_cron",
    "validate_time_zone",
]

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELD_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_HINTS = {
    Field.DAY: "1-31, L, LW or nW",
    Field.MONTH: "1-12 or JAN-DEC",
    Field.DOW: "0-7, SUN-SAT, nL or n#k",
}
# Longest (normalised) expression a schedule stores (``Schedule.cron_expression``) and longest minute ...
# day-of-week fields of its django-celery-beat projection (``CrontabSchedule``'s columns);
# tests/ops/test_hostile_input.py holds them equal to the models'.
MAX_CRON_LENGTH = 200
PROJECTED_FIELD_MAX = {"minute": 240, "hour": 96, "day_of_month": 124, "month_of_year": 64, "day_of_week": 64}
_LONGEST_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NEAREST_WEEKDAY = re.compile(r"(\d+)W")
_NEVER_FIRES_FROM = datetime(2000, 1, 1, tzinfo=UTC)
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # files in the tz dir, not places
# What beat is told when a schedule will never fire again: far away, yet safe to add to now().
NEVER = timedelta(days=36_525)
TZ_HELP = (
    "use names such as 'Europe/Berlin' or 'America/New_York' "
    "(see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones)"
)


class CronError(ValueError):
    """A refused cron expression or time zone.

    ``field`` is the input that is wrong (``"cron"`` or ``"tz"``); ``code`` is a stable machine
    string: ``"invalid"`` (syntax / range), ``"never_fires"`` or ``"bad_tz"``. ``str()`` is the
    human message, which starts with the field and names the rule, e.g.
    ``"cron: minute field: 61 is out of range 0-59"``.
    """

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:  # picklable, e.g. as a Celery task error
        return self.__class__, (self.field, self.code, self.message)


# ---------------------------------------------------------------------------------------------
# Time zones


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES  # ~60 ms once per process


def validate_time_zone(name: str | None) -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA name; ``None`` or blank means ``"UTC"``.

    Surrounding whitespace is ignored; the canonical name is the returned zone's ``.key``.
    Raises ``CronError(field="tz", code="bad_tz")`` for anything not in the zone database
    (names are case-sensitive; a case-only mistake gets a "did you mean" hint).
    """
    if name is None or (isinstance(name, str) and not name.strip()):
        return ZoneInfo("UTC")
    if not isinstance(name, str):
        raise CronError(
            "tz", "bad_tz", f"tz: expected a time-zone name, got {type(name).__name__}; {TZ_HELP}"
        )
    name = name.strip()
    if name not in _zone_names():
        folded = {zone.casefold(): zone for zone in _zone_names()}.get(name.casefold())
        hint = f" (did you mean {folded!r}?)" if folded else ""
        raise CronError("tz", "bad_tz", f"tz: {name!r} is not an IANA time zone name{hint}; {TZ_HELP}")
    return ZoneInfo(name)


def _zone(name: str | None) -> tzinfo:
    return _zone_cached(name) if name is None or isinstance(name, str) else validate_time_zone(name)


@functools.lru_cache(maxsize=512)
def _zone_cached(name: str | None) -> tzinfo:
    zone = validate_time_zone(name)
    # cronsim short-cuts datetime.UTC (no DST work per tick); same instants as ZoneInfo("UTC").
    return UTC if zone.key in _UTC_NAMES else zone


# ---------------------------------------------------------------------------------------------
# Cron parsing (cronsim parses each field; this layer adds macros, nW and precise messages)


@dataclass(frozen=True)
class _Spec:
    expression: str  # normalised: upper case, single spaces, macros expanded, 5 or 6 fields
    sim_expression: str  # 6 fields for cronsim, day-of-month replaced by "*" (set on the instance)
    days: frozenset[int]  # cronsim's day-of-month set (ints, CronSim.LAST, CronSim.LAST_WEEKDAY)
    nearest: tuple[int, ...]  # the n of each nW term
    day_and: bool
    wall_clock: bool  # Debian DST adjustment applies (minute and hour fields are not wildcards)


def _invalid(message: str) -> CronError:
    return CronError("cron", "invalid", f"cron: {message}")


def _parse_days(text: str) -> tuple[set[int], tuple[int, ...]]:
    terms = text.split(",")
    nearest = tuple(int(m.group(1)) for t in terms if (m := _NEAREST_WEEKDAY.fullmatch(t)))
    if any(n not in RANGES[Field.DAY] for n in nearest):
        raise CronSimError("nW out of range")
    rest = [t for t in terms if not _NEAREST_WEEKDAY.fullmatch(t)]
    return (Field.DAY.parse(",".join(rest)) if rest else set()), nearest  # type: ignore[return-value]


def _field_problem(field: Field, text: str) -> str:
    """Explain why cronsim refused ``text``: the first bad list item, most specific rule first."""
    lo, hi = RANGES[field][0], RANGES[field][-1]
    hint = _FIELD_HINTS.get(field, f"{lo}-{hi}")
    for term in text.split(","):
        try:
            _parse_days(term) if field is Field.DAY else field.parse(term)
            continue
        except CronSimError:
            pass
        if term in ("", "?"):
            return "empty list item" if term == "" else "'?' is not supported; use '*'"
        base, slash, step = term.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return f"step {step!r} in {term!r} must be a whole number of at least 1"
        base, sharp, nth = base.partition("#")
        if sharp and field is Field.DOW and not (nth.isdigit() and 1 <= int(nth) <= 5):
            return f"{term!r}: the week number after '#' must be 1-5"
        ends = base.split("-")
        for value in ends:
            number = value.removesuffix("W" if field is Field.DAY else "L" if field is Field.DOW else "")
            if number.isdigit() and int(number) not in RANGES[field]:
                return f"{int(number)} is out of range {lo}-{hi}"
        if len(ends) == 2:
            try:
                if field.int(ends[0]) > field.int(ends[1]):
                    return f"range {base!r} goes backwards; write the smaller value first"
            except CronSimError:
                pass
        return f"{term!r} is not valid here; use {hint}, '*', ranges a-b, steps /n and lists a,b"
    return f"{text!r} is not valid; use {hint}"  # pragma: no cover - cronsim refused the whole field


def _month_list(months: set[int]) -> str:
    names = [calendar.month_name[m] for m in sorted(months)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _compile(expression: str) -> _Spec:
    if not isinstance(expression, str):
        raise _invalid(f"expected a cron expression string, got {type(expression).__name__}")
    return _compile_str(expression)


@functools.lru_cache(maxsize=4096)
def _compile_str(expression: str) -> _Spec:
    text = " ".join(expression.split()).upper()
    if not text:
        raise _invalid("expression is empty")
    if not text.isascii():  # "²".isdigit() is true, but no field takes it
        raise _invalid("only ASCII characters are allowed: digits 0-9, names such as MON or JAN, *,-/#LW")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise _invalid(f"unknown macro {text.lower()!r}; use one of {', '.join(MACROS)}")
        text = MACROS[text.lower()]
    parts = text.split()
    if len(parts) not in (5, 6):
        raise _invalid(
            f"expected 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 with a leading seconds field, got {len(parts)}"
        )
    six = parts if len(parts) == 6 else ["0", *parts]
    fields: dict[Field, Any] = {}
    for field, part in zip(Field, six, strict=True):
        try:
            fields[field] = _parse_days(part) if field is Field.DAY else field.parse(part)
        except CronSimError:
            raise _invalid(f"{FIELD_NAMES[field]} field: {_field_problem(field, part)}") from None
    days, nearest = fields[Field.DAY]
    day_and = six[3].startswith("*") or six[5].startswith("*")  # crontab(5): else the OR rule
    numbered = {d for d in days if d > 0} | set(nearest)
    if day_and and numbered == days | set(nearest):  # no L / LW, which exist in every month
        months = fields[Field.MONTH]
        if min(numbered) > max(_LONGEST_MONTH[m] for m in months):
            late = sorted(d for d in numbered if d > max(_LONGEST_MONTH[m] for m in months))
            verb = "occurs" if len(late) == 1 else "occur"
            raise CronError(
                "cron",
                "never_fires",
                f"cron: day-of-month {','.join(map(str, late))} never {verb} in {_month_list(months)}",
            )
    sim = " ".join([*six[:3], "*", *six[4:]])
    wall_clock = not six[1].startswith("*") and not six[2].startswith("*")  # cron(8) DST rule
    spec = _Spec(" ".join(parts), sim, frozenset(days), nearest, day_and, wall_clock)
    if not _matches_some_day(spec):
        raise CronError(
            "cron",
            "never_fires",
            "cron: the expression never fires: no date matches its day-of-month, month and "
            "day-of-week fields together",
        )
    return spec


def _matches_some_day(spec: _Spec) -> bool:
    """Whether any calendar date matches the day fields, using cronsim's own day matcher.

    A date's match depends only on its month and that month's layout (weekday of the 1st,
    length), and 2000-2027 contains every layout, so at most 91 distinct months are scanned
    (~1.5 ms worst case). Any day with a match fires: the time-of-day fields always match.
    """
    sim = _simulator(spec, _NEVER_FIRES_FROM)
    seen: set[tuple[int, int, int]] = set()
    for year in range(2000, 2028):
        for month in sim.months:
            first_dow, length = calendar.monthrange(year, month)
            if (month, first_dow, length) in seen:
                continue
            seen.add((month, first_dow, length))
            if any(sim.match_day(date(year, month, day)) for day in range(1, length + 1)):
                return True
    return False


def validate_cron(expression: str, tz: str | None = "UTC") -> str:
    """Validate a cron expression (and its time zone); return the normalised expression.

    Normalised = macros expanded, whitespace collapsed to single spaces, upper case (the dialect
    is case-insensitive). A 6-field input stays 6 fields. At most ``MAX_CRON_LENGTH`` characters
    once normalised, and each of the last five fields within its projection's column
    (``PROJECTED_FIELD_MAX``); ASCII only.
    Raises ``CronError(field="cron", code="invalid" | "never_fires")`` or, for the zone,
    ``CronError(field="tz", code="bad_tz")``.
    """
    if isinstance(expression, str):
        _check_length(" ".join(expression.split()))  # before compiling: nothing huge is parsed or cached
    spec = _compile(expression)
    _check_length(spec.expression)
    projected = zip(PROJECTED_FIELD_MAX.values(), FIELD_NAMES[1:], spec.expression.split()[-5:], strict=True)
    for limit, label, part in projected:
        if len(part) > limit:
            raise _invalid(f"{label} field: at most {limit} characters (this one has {len(part)})")
    _zone(tz)
    return spec.expression


def _check_length(text: str) -> None:
    if len(text) > MAX_CRON_LENGTH and not text.startswith("@"):
        raise _invalid(
            f"at most {MAX_CRON_LENGTH} characters (this one has {len(text)}); "
            "shorten lists with ranges (a-b) or steps (*/n)"
        )


# ---------------------------------------------------------------------------------------------
# Projection onto Celery's crontab (django-celery-beat's ``CrontabSchedule`` columns)

_CELERY_FIELDS = (  # column, cronsim field, Celery's parser (celery.schedules.crontab's arguments)
    ("minute", Field.MINUTE, crontab_parser(60)),
    ("hour", Field.HOUR, crontab_parser(24)),
    ("day_of_month", Field.DAY, crontab_parser(31, 1)),
    ("month_of_year", Field.MONTH, crontab_parser(12, 1)),
    ("day_of_week", Field.DOW, crontab_parser(7)),
)


def _as_celery_field(text: str, values: set[int], parser: crontab_parser) -> str:
    """``text`` if Celery reads it as the same set, else the set written as Celery's ranges/lists."""
    try:
        if parser.parse(text.lower()) == values:
            return text
    except (ValueError, ParseException):
        pass
    if values == set(range(parser.min_, parser.min_ + parser.max_)):
        return "*"
    runs: list[list[int]] = []
    for value in sorted(values):
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


@functools.lru_cache(maxsize=1024)
def celery_crontab_fields(expression: str) -> dict[str, str] | None:
    """The five ``CrontabSchedule`` columns stating exactly the times of a valid expression, or ``None``.

    ``{"minute", "hour", "day_of_month", "month_of_year", "day_of_week"}``, each a Celery crontab
    field that Celery expands to the very set of values cronsim reads from ours (the user's text when
    Celery reads it the same way, else an equivalent list such as ``0`` for a day-of-week ``7``).
    ``None`` when Celery's crontab cannot say the same thing, namely for:

    * a seconds field other than ``0`` (Celery's crontab has minute resolution);
    * ``L``, ``LW``, ``nW`` in day-of-month, ``nL`` or ``n#k`` in day-of-week;
    * day-of-month and day-of-week both restricted: cron's OR rule (``0 9 1 * MON``), while Celery
      requires a day to match both fields (``celery.schedules.crontab``: "day_of_month ... and
      day_of_week").

    How either reads a repeated or skipped wall-clock time at a DST change is not part of the
    columns: fire times always come from this module (see docs/scheduling.md, "The django-celery-beat
    projection"). Raises ``CronError`` for an invalid expression.
    """
    spec = _compile(expression)
    parts = spec.expression.split()
    if len(parts) == 6 and Field.SECOND.parse(parts[0]) != {0}:
        return None
    if spec.nearest or not spec.day_and:
        return None
    columns = {}
    for (column, field, parser), text in zip(_CELERY_FIELDS, parts[-5:], strict=True):
        parsed = field.parse(text)
        values = {v for v in parsed if isinstance(v, int) and v in RANGES[field]}
        if len(values) != len(parsed):
            return None  # L, LW (negative markers), nL and n#k (tuples)
        if field is Field.DOW:
            values = {v % 7 for v in values}  # 7 is Sunday, Celery's 0
        columns[column] = _as_celery_field(text, values, parser)
    return columns


# ---------------------------------------------------------------------------------------------
# Fire times


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    first_dow, last = calendar.monthrange(year, month)
    if day > last:
        return None
    dow = (first_dow + day - 1) % 7  # Monday = 0
    if dow == 5:  # Saturday: Friday before, unless that leaves the month (1W -> Monday the 3rd)
        return day - 1 if day > 1 else day + 2
    if dow == 6:  # Sunday: Monday after, unless that leaves the month (31W -> Friday the 29th)
        return day + 1 if day < last else day - 2
    return day


class _Simulator(CronSim):
    """cronsim plus our day-of-month set and OR/AND flag, the DST rule for 6 fields, and jumps.

    cronsim walks to the next matching second/minute/hour in 1-unit ticks (~20 per fire), and in
    a DST zone it rolls hours with ``replace(minute=0)``, which assumes offsets change at the top
    of an hour: it skips real local times around Pacific/Chatham's xx:45 and Lord Howe's
    30-minute changes. These overrides jump straight to the next candidate value, or to where
    cronsim breaks out to re-check the larger fields, and never jump across an offset change:
    they stop on it (``_jump``). So no instant whose local time matches is passed over.
    """

    def __init__(self, spec: _Spec, start: datetime) -> None:
        super().__init__(spec.sim_expression, start)
        self.days = set(spec.days)
        self.day_and = spec.day_and
        if spec.wall_clock and self.dt.tzinfo is not UTC:
            # cronsim's own switch to naive wall-clock iteration with the imaginary-time fix-up
            self.fixup_tz = self.dt.tzinfo
            self.dt = self.dt.replace(tzinfo=None)
        self._second_list = sorted(self.seconds)
        self._minute_list = sorted(self.minutes)
        self._hour_list = sorted(self.hours)

    def _jump(self, seconds: int) -> None:
        """Move ``seconds`` of real time forward, stopping early at a change of UTC offset."""
        zone = self.dt.tzinfo
        if zone is None or zone is UTC:
            self.dt += timedelta(seconds=seconds)
            return
        start, offset = self.dt.astimezone(UTC), self.dt.utcoffset()
        end = (start + timedelta(seconds=seconds)).astimezone(zone)
        if end.utcoffset() != offset:  # find the first second of the new offset
            lo, hi = 0, seconds
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if (start + timedelta(seconds=mid)).astimezone(zone).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            end = (start + timedelta(seconds=hi)).astimezone(zone)
        self.dt = end

    def advance_second(self) -> bool:
        if self.dt.second in self.seconds:
            return False
        while True:
            i = bisect_right(self._second_list, self.dt.second)
            self._jump((self._second_list[i] if i < len(self._second_list) else 60) - self.dt.second)
            if self.dt.second in self.seconds or self.dt.second == 0:
                return True

    def advance_minute(self) -> bool:
        if self.dt.minute in self.minutes:
            return False
        self.dt = self.dt.replace(second=0)
        while True:
            i = bisect_right(self._minute_list, self.dt.minute)
            self._jump(((self._minute_list[i] if i < len(self._minute_list) else 60) - self.dt.minute) * 60)
            if self.dt.minute in self.minutes or self.dt.minute == 0:
                return True

    def advance_hour(self) -> bool:
        if self.dt.hour in self.hours:
            return False
        if self.dt.tzinfo is None or self.dt.tzinfo is UTC:  # a uniform clock: one exact jump
            self.dt = self.dt.replace(minute=0, second=0)
            i = bisect_right(self._hour_list, self.dt.hour)
            self._jump(((self._hour_list[i] if i < len(self._hour_list) else 24) - self.dt.hour) * 3600)
            return True
        day = self.dt.date()
        while True:  # real time, one local hour (or up to an offset change) at a time
            self._jump(3600 - self.dt.minute * 60 - self.dt.second)
            if self.dt.hour in self.hours or self.dt.date() != day:
                return True

    def _settle(self) -> None:
        # cronsim starts a new day/month at local midnight, which may not exist (America/Havana,
        # Santiago): continue from the real instant it stands for.
        if self.dt.tzinfo is not None and self.dt.tzinfo is not UTC:
            self.dt = self.dt.astimezone(UTC).astimezone(self.dt.tzinfo)

    def advance_day(self) -> bool:
        moved = super().advance_day()
        if moved:
            self._settle()
        return moved

    def advance_month(self) -> None:
        before = self.dt
        super().advance_month()
        if self.dt is not before:
            self._settle()


class _NearestWeekdaySim(_Simulator):
    def __init__(self, spec: _Spec, start: datetime) -> None:
        super().__init__(spec, start)
        self.nearest = spec.nearest
        self.near_days = {n + shift for n in spec.nearest for shift in range(-2, 3)}

    def match_dom(self, d: date) -> bool:
        if super().match_dom(d):
            return True
        return d.day in self.near_days and any(
            _nearest_weekday(d.year, d.month, n) == d.day for n in self.nearest
        )


def _simulator(spec: _Spec, start: datetime) -> CronSim:
    return (_NearestWeekdaySim if spec.nearest else _Simulator)(spec, start)


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _fires(spec: _Spec, zone: tzinfo, after: datetime) -> Iterator[datetime]:
    """Fire times after ``after``; they end where Python's calendar ends (year 9999): no fire there."""
    last = after
    try:
        for fire in _simulator(spec, after.astimezone(zone)):
            fire = fire.astimezone(UTC)
            # Wall-clock iteration forgets the fold of `after`: when it lies in the second pass of a
            # repeated hour, candidates for its first pass come out earlier and are dropped here.
            if fire > last:
                last = fire
                yield fire
    except (OverflowError, ValueError):  # "date value out of range" / "year 10000 is out of range"
        return


def cron_fire_times(
    expression: str, tz: str | None, after: datetime, count: int, *, until: datetime | None = None
) -> list[datetime]:
    """The first ``count`` fire times strictly after ``after``, as aware UTC datetimes.

    ``after`` and ``until`` are aware datetimes in any zone; ``until`` is inclusive. The list is
    shorter than ``count`` when ``until`` is reached or when nothing fires for 50 years.
    Wall times are read in ``tz``, with the DST rule in the module docstring.
    Raises ``CronError`` for a bad expression or zone, ``ValueError`` for naive datetimes or
    a negative count. Cost (CPU time): ~20 µs per call plus ~4-20 µs per fire for expressions
    that fire at least daily, ~25-55 µs per fire for weekly/monthly ones (searched day by day).
    """
    spec = _compile(expression)
    zone = _zone(tz)
    after = _require_aware(after, "after")
    until = None if until is None else _require_aware(until, "until")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    result: list[datetime] = []
    if count == 0:
        return result
    for fire in _fires(spec, zone, after):
        if until is not None and fire > until:
            break
        result.append(fire)
        if len(result) == count:
            break
    return result


def next_cron_fire(expression: str, tz: str | None, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (aware UTC), or ``None`` if none in 50 years."""
    fires = cron_fire_times(expression, tz, after, 1)
    return fires[0] if fires else None


def interval_fire_times(
    anchor: datetime, every_ms: int, after: datetime, count: int, *, until: datetime | None = None
) -> list[datetime]:
    """Fire times of an anchored interval schedule: ``anchor + k * every_ms`` for k >= 0.

    Returns the first ``count`` of them strictly after ``after`` (so the anchor itself when
    ``after < anchor``), stopping at ``until`` (inclusive), as aware UTC datetimes. Arithmetic is
    on whole ``timedelta`` units (integer microseconds), so there is no drift however far out.
    Raises ``ValueError`` for naive datetimes, ``every_ms < 1`` or a negative count.
    """
    anchor = _require_aware(anchor, "anchor")
    after = _require_aware(after, "after")
    until = None if until is None else _require_aware(until, "until")
    if isinstance(every_ms, bool) or not isinstance(every_ms, int) or every_ms < 1:
        raise ValueError(f"every_ms must be a whole number of milliseconds >= 1, got {every_ms!r}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    step = timedelta(milliseconds=every_ms)
    k = 0 if after < anchor else (after - anchor) // step + 1
    result: list[datetime] = []
    while len(result) < count:
        try:
            fire = anchor + k * step
        except OverflowError:  # past year 9999: no further fire
            break
        if until is not None and fire > until:
            break
        result.append(fire)
        k += 1
    return result


# ---------------------------------------------------------------------------------------------
# Descriptions


@functools.lru_cache(maxsize=1024)
def _describe(expression: str, or_rule: bool) -> str:
    options = Options()
    options.locale_code = "en_US"  # not the process locale: the text must not vary by host
    options.use_24hour_time_format = True
    descriptor = ExpressionDescriptor(expression, options)
    part = descriptor.get_description
    day_of_week = part(DescriptionTypeEnum.DAYOFWEEK)
    if or_rule and day_of_week:
        # cron_descriptor says "on day 1 of the month, only on Monday" (AND); cron means OR.
        day_of_week = ", or " + day_of_week.removeprefix(", ").removeprefix("only ")
    text = "".join(
        [
            part(DescriptionTypeEnum.TIMEOFDAY),
            part(DescriptionTypeEnum.DAYOFMONTH),
            day_of_week,
            part(DescriptionTypeEnum.MONTH),
        ]
    )
    text = ExpressionDescriptor.transform_case(
        descriptor.transform_verbosity(text, False), options.casing_type
    )
    fields = expression.split()[-3:]
    if fields == ["*", "*", "*"] and not text.startswith("Every"):
        text += ", every day"
    return text


def describe_cron(expression: str, tz: str | None) -> str:
    """Human text for a valid expression, ending with the zone, e.g. "At 02:30, every day (UTC)".

    Uses cron_descriptor (English, 24-hour clock), corrected for the day-of-month OR
    day-of-week rule; falls back to cronsim's explainer, then to the bare expression, so it
    never raises for a valid expression. Raises ``CronError`` if the expression or zone is invalid.
    """
    spec = _compile(expression)
    zone = validate_time_zone(tz)
    try:
        text = _describe(spec.expression, not spec.day_and)
    except Exception:  # noqa: BLE001 - a description must never break a page
        try:
            text = CronSim(spec.expression, datetime(2000, 1, 1)).explain()
        except Exception:  # noqa: BLE001
            text = f"cron {spec.expression}"
    return f"{text} ({zone.key})"


def describe_interval(every_ms: int) -> str:
    """Human text for an interval: "every 5 seconds", "every 1.5 seconds", "every hour".

    Raises ``ValueError`` if ``every_ms`` is not a whole number >= 1.
    """
    if isinstance(every_ms, bool) or not isinstance(every_ms, int) or every_ms < 1:
        raise ValueError(f"every_ms must be a whole number of milliseconds >= 1, got {every_ms!r}")
    for unit, size in (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000)):
        if every_ms % size == 0:
            n = every_ms // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    if every_ms < 1000:
        return "every millisecond" if every_ms == 1 else f"every {every_ms} milliseconds"
    return f"every {every_ms // 1000}.{every_ms % 1000:03d}".rstrip("0") + " seconds"


# ---------------------------------------------------------------------------------------------
# Celery beat


class _FireTimeSchedule(BaseSchedule, abc.ABC):
    """Celery schedule driven by ``next_after``, so beat and the preview share one code path.

    ``is_due(last_run_at)`` returns ``schedstate(is_due, next)`` per celery's contract: due when
    the first fire after ``last_run_at`` is not in the future (missed fires collapse into one
    run); ``next`` is the number of seconds until the first fire after now (``NEVER`` if none).
    Naive datetimes (from ``nowfun`` or ``last_run_at``) are taken as UTC, as celery does.
    """

    @abc.abstractmethod
    def next_after(self, dt: datetime) -> datetime | None:
        """The first fire time strictly after ``dt`` (aware UTC), or ``None`` if it never fires again."""

    def _now_utc(self) -> datetime:
        return _as_utc(self.now())

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        fire = self.next_after(_as_utc(last_run_at))
        return NEVER if fire is None else fire - self._now_utc()

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = self._now_utc()
        fire = self.next_after(_as_utc(last_run_at))
        due = fire is not None and fire <= now
        if due:
            fire = self.next_after(now)
        wait = NEVER if fire is None else fire - now
        return schedstate(due, max(wait.total_seconds(), 0.0))


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.utcoffset() is None else dt.astimezone(UTC)


class CronSchedule(_FireTimeSchedule):
    """Celery schedule for a cron expression read in an IANA zone (see ``cron_fire_times``)."""

    def __init__(
        self,
        expression: str,
        tz: str | None = "UTC",
        nowfun: Callable[[], datetime] | None = None,
        app: Any = None,
    ) -> None:
        self.expression = validate_cron(expression)
        self.time_zone = validate_time_zone(tz).key
        super().__init__(nowfun=nowfun, app=app)

    def next_after(self, dt: datetime) -> datetime | None:
        return next_cron_fire(self.expression, self.time_zone, _as_utc(dt))

    def __repr__(self) -> str:
        return f"<CronSchedule {self.expression!r} {self.time_zone}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CronSchedule):
            return (self.expression, self.time_zone) == (other.expression, other.time_zone)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((CronSchedule, self.expression, self.time_zone))

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.expression, self.time_zone, self.nowfun)


class IntervalSchedule(_FireTimeSchedule):
    """Celery schedule firing at ``anchor + k * every_ms`` (see ``interval_fire_times``)."""

    def __init__(
        self, anchor: datetime, every_ms: int, nowfun: Callable[[], datetime] | None = None, app: Any = None
    ) -> None:
        interval_fire_times(anchor, every_ms, anchor, 0)  # validates both
        self.anchor = anchor.astimezone(UTC)
        self.every_ms = every_ms
        super().__init__(nowfun=nowfun, app=app)

    def next_after(self, dt: datetime) -> datetime | None:
        fires = interval_fire_times(self.anchor, self.every_ms, _as_utc(dt), 1)
        return fires[0] if fires else None

    def __repr__(self) -> str:
        return f"<IntervalSchedule {describe_interval(self.every_ms)} from {self.anchor.isoformat()}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IntervalSchedule):
            return (self.anchor, self.every_ms) == (other.anchor, other.every_ms)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((IntervalSchedule, self.anchor, self.every_ms))

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.anchor, self.every_ms, self.nowfun)
