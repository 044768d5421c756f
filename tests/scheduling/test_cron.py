"""Tests for scheduling/cron.py: exact UTC fire times (DST included), dialect, refusals, texts, Celery."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.cron import (
    MACROS,
    CronError,
    CronSchedule,
    IntervalSchedule,
    cron_fire_times,
    describe_cron,
    describe_interval,
    interval_fire_times,
    next_cron_fire,
    validate_cron,
    validate_time_zone,
)


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def iso(fires: list[datetime]) -> list[str]:
    assert all(f.tzinfo is UTC for f in fires)
    return [
        f.isoformat(timespec="milliseconds" if f.microsecond else "seconds").replace("+00:00", "Z")
        for f in fires
    ]


# --- daylight saving --------------------------------------------------------------------------

DST_CASES = [
    # Europe/Berlin springs forward 2028-03-26 02:00 CET -> 03:00 CEST: 02:30 fires once, at 03:00 CEST.
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2028-03-24T12:00Z",
        ["2028-03-25T01:30:00Z", "2028-03-26T01:00:00Z", "2028-03-27T00:30:00Z"],
    ),
    # ... and falls back 2028-10-29 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires at the first.
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2028-10-27T12:00Z",
        ["2028-10-28T00:30:00Z", "2028-10-29T00:30:00Z", "2028-10-30T01:30:00Z"],
    ),
    # Same rule with a seconds field (cronsim alone would fire 0 times, then twice, here).
    (
        "0 30 2 * * *",
        "Europe/Berlin",
        "2028-03-24T12:00Z",
        ["2028-03-25T01:30:00Z", "2028-03-26T01:00:00Z", "2028-03-27T00:30:00Z"],
    ),
    (
        "0 30 2 * * *",
        "Europe/Berlin",
        "2028-10-27T12:00Z",
        ["2028-10-28T00:30:00Z", "2028-10-29T00:30:00Z", "2028-10-30T01:30:00Z"],
    ),
    # `after` inside the second pass of the repeated hour: 02:30 already fired in the first pass.
    ("30 2 * * *", "Europe/Berlin", "2028-10-29T01:00Z", ["2028-10-30T01:30:00Z"]),
    # America/New_York springs forward 2028-03-12 02:00 EST -> 03:00 EDT.
    (
        "30 2 * * *",
        "America/New_York",
        "2028-03-10T12:00Z",
        ["2028-03-11T07:30:00Z", "2028-03-12T07:00:00Z", "2028-03-13T06:30:00Z"],
    ),
    # ... falls back 2028-11-05 02:00 EDT -> 01:00 EST: 02:30 is not repeated there, 01:30 is.
    (
        "30 2 * * *",
        "America/New_York",
        "2028-11-04T00:00Z",
        ["2028-11-04T06:30:00Z", "2028-11-05T07:30:00Z", "2028-11-06T07:30:00Z"],
    ),
    (
        "30 1 * * *",
        "America/New_York",
        "2028-11-04T00:00Z",
        ["2028-11-04T05:30:00Z", "2028-11-05T05:30:00Z", "2028-11-06T06:30:00Z"],
    ),
    # Wildcard-minute jobs run on real time (Debian cron): */15 fires every 15 real minutes through the
    # fall-back night, in BOTH passes of 02:00-02:59 (00:00Z-00:45Z is CEST, 01:00Z-01:45Z is CET).
    (
        "*/15 * * * *",
        "Europe/Berlin",
        "2028-10-28T23:30Z",
        [
            "2028-10-28T23:45:00Z",
            "2028-10-29T00:00:00Z",
            "2028-10-29T00:15:00Z",
            "2028-10-29T00:30:00Z",
            "2028-10-29T00:45:00Z",
            "2028-10-29T01:00:00Z",
            "2028-10-29T01:15:00Z",
            "2028-10-29T01:30:00Z",
            "2028-10-29T01:45:00Z",
            "2028-10-29T02:00:00Z",
            "2028-10-29T02:15:00Z",
            "2028-10-29T02:30:00Z",
        ],
    ),
    # ... and with no hole at the spring jump: 01:45 CET is followed 15 real minutes later by 03:00 CEST.
    (
        "*/15 * * * *",
        "Europe/Berlin",
        "2028-03-26T00:30Z",
        ["2028-03-26T00:45:00Z", "2028-03-26T01:00:00Z", "2028-03-26T01:15:00Z"],
    ),
    # The documented price of the Debian rule: a wildcard-minute job restricted to the skipped hour does not
    # fire on the spring night, and fires in both passes on the fall-back night.
    ("*/30 2 * * *", "Europe/Berlin", "2028-03-25T12:00Z", ["2028-03-27T00:00:00Z", "2028-03-27T00:30:00Z"]),
    (
        "*/30 2 * * *",
        "Europe/Berlin",
        "2028-10-28T12:00Z",
        [
            "2028-10-29T00:00:00Z",
            "2028-10-29T00:30:00Z",
            "2028-10-29T01:00:00Z",
            "2028-10-29T01:30:00Z",
            "2028-10-30T01:00:00Z",
        ],
    ),
]


@pytest.mark.parametrize(("expression", "tz", "after", "expected"), DST_CASES)
def test_dst_fire_times(expression: str, tz: str, after: str, expected: list[str]) -> None:
    assert iso(cron_fire_times(expression, tz, at(after), len(expected))) == expected


def _brute_force(expression: str, zone: ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """Every real minute in (lo, hi] whose local wall time matches a 5-field minute/hour expression."""

    def values(text: str, top: int) -> set[int]:
        found: set[int] = set()
        for term in text.split(","):
            span, _, step = term.partition("/")
            first, _, last = span.partition("-")
            start = 0 if first == "*" else int(first)
            end = top - 1 if first == "*" else int(last or first)
            found.update(range(start, end + 1, int(step or 1)))
        return found

    minute_text, hour_text = expression.split()[:2]
    minutes, hours = values(minute_text, 60), values(hour_text, 24)
    found, t = [], lo + timedelta(minutes=1)
    while t <= hi:
        local = t.astimezone(zone)
        if local.minute in minutes and local.hour in hours:
            found.append(t)
        t += timedelta(minutes=1)
    return found


@pytest.mark.parametrize(
    ("tz", "transition"),
    [
        ("Europe/Berlin", "2028-03-26T01:00Z"),
        ("Europe/Berlin", "2028-10-29T01:00Z"),
        ("America/Santiago", "2028-04-02T03:00Z"),  # 23:59 -03 -> 23:00 -04: the hour before midnight repeats
        ("America/Havana", "2028-03-12T05:00Z"),  # 23:59 CST -> 01:00 CDT: local midnight never exists
        ("Pacific/Chatham", "2028-09-23T14:00Z"),  # 02:44 -> 03:45, not at the top of an hour
        ("Pacific/Chatham", "2028-04-01T14:00Z"),  # 03:44 -> 02:45
        ("Australia/Lord_Howe", "2028-09-30T15:30Z"),  # 01:59 -> 02:30, a 30-minute change
        ("Australia/Lord_Howe", "2028-04-01T15:00Z"),  # 01:59 -> 01:30
    ],
)
@pytest.mark.parametrize("expression", ["*/7 * * * *", "* 2,3 * * *", "*/10 0,1,23 * * *", "*/20 1-4 * * *"])
def test_wildcard_jobs_fire_at_every_matching_real_minute(tz: str, transition: str, expression: str) -> None:
    # Real-time semantics checked against a minute-by-minute scan, including odd zones where
    # cronsim's own hour rolling (which assumes offsets change at the top of an hour) skips times.
    zone, moment = ZoneInfo(tz), at(transition)
    assert (moment - timedelta(minutes=1)).astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset()
    lo, hi = moment - timedelta(hours=5), moment + timedelta(hours=5)
    expected = _brute_force(expression, zone, lo, hi)
    assert expected
    assert cron_fire_times(expression, tz, lo, 10_000, until=hi) == expected


# --- dialect ----------------------------------------------------------------------------------

DIALECT_CASES = [
    # OR rule: both day fields restricted -> the 1st of each month AND every Monday (2028-01-01: Saturday).
    (
        "0 9 1 * MON",
        "2028-01-01T00:00Z",
        [
            "2028-01-01T09:00:00Z",
            "2028-01-03T09:00:00Z",
            "2028-01-10T09:00:00Z",
            "2028-01-17T09:00:00Z",
            "2028-01-24T09:00:00Z",
            "2028-01-31T09:00:00Z",
            "2028-02-01T09:00:00Z",
            "2028-02-07T09:00:00Z",
        ],
    ),
    # A day field starting with '*' switches to AND (Vixie quirk): odd days that are Mondays.
    (
        "0 9 */2 * MON",
        "2028-01-01T00:00Z",
        ["2028-01-03T09:00:00Z", "2028-01-17T09:00:00Z", "2028-01-31T09:00:00Z"],
    ),
    (
        "0 0 L * *",
        "2028-01-15T00:00Z",
        ["2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z", "2028-04-30T00:00:00Z"],
    ),
    # 2028-04-30 is a Sunday, so the last weekday of April is Friday the 28th.
    (
        "0 0 LW * *",
        "2028-04-01T00:00Z",
        ["2028-04-28T00:00:00Z", "2028-05-31T00:00:00Z", "2028-06-30T00:00:00Z", "2028-07-31T00:00:00Z"],
    ),
    (
        "0 12 * * FRI#3",
        "2028-01-01T00:00Z",
        ["2028-01-21T12:00:00Z", "2028-02-18T12:00:00Z", "2028-03-17T12:00:00Z"],
    ),
    (
        "0 0 * * 5L",
        "2028-01-01T00:00Z",
        ["2028-01-28T00:00:00Z", "2028-02-25T00:00:00Z", "2028-03-31T00:00:00Z"],
    ),
    # nW: 2028-01-15 is a Saturday -> Friday 14th; 2028-04-15 Saturday -> 14th.
    (
        "0 0 15W * *",
        "2028-01-01T00:00Z",
        ["2028-01-14T00:00:00Z", "2028-02-15T00:00:00Z", "2028-03-15T00:00:00Z", "2028-04-14T00:00:00Z"],
    ),
    ("0 0 15W * *", "2028-10-01T00:00Z", ["2028-10-16T00:00:00Z"]),  # Sunday 15th -> Monday 16th
    (
        "0 0 1W * *",
        "2028-01-01T00:00Z",
        ["2028-01-03T00:00:00Z", "2028-02-01T00:00:00Z"],
    ),  # never back into December
    # Sunday 2028-12-31 -> Friday 29th; February 2029 has no 31st; Saturday 2029-03-31 -> 30th.
    (
        "0 0 31W * *",
        "2028-12-01T00:00Z",
        ["2028-12-29T00:00:00Z", "2029-01-31T00:00:00Z", "2029-03-30T00:00:00Z"],
    ),
    (
        "*/20 * * * * *",
        "2028-01-01T00:00Z",
        ["2028-01-01T00:00:20Z", "2028-01-01T00:00:40Z", "2028-01-01T00:01:00Z", "2028-01-01T00:01:20Z"],
    ),
    ("30 0 12 * * *", "2028-01-01T00:00Z", ["2028-01-01T12:00:30Z", "2028-01-02T12:00:30Z"]),
    ("0 0 * * 7", "2028-01-01T00:00Z", ["2028-01-02T00:00:00Z", "2028-01-09T00:00:00Z"]),  # 7 is Sunday too
    (
        "5/15 * * * *",
        "2028-01-01T00:00Z",
        ["2028-01-01T00:05:00Z", "2028-01-01T00:20:00Z", "2028-01-01T00:35:00Z"],
    ),
    (
        "0 0 * jan-feb sat,sun",
        "2028-01-01T00:00Z",
        ["2028-01-02T00:00:00Z", "2028-01-08T00:00:00Z", "2028-01-09T00:00:00Z"],
    ),
    ("@yearly", "2028-05-17T10:20Z", ["2029-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]),
    ("@annually", "2028-05-17T10:20Z", ["2029-01-01T00:00:00Z"]),
    ("@monthly", "2028-05-17T10:20Z", ["2028-06-01T00:00:00Z", "2028-07-01T00:00:00Z"]),
    ("@weekly", "2028-05-17T10:20Z", ["2028-05-21T00:00:00Z", "2028-05-28T00:00:00Z"]),
    ("@daily", "2028-05-17T10:20Z", ["2028-05-18T00:00:00Z"]),
    ("@midnight", "2028-05-17T10:20Z", ["2028-05-18T00:00:00Z"]),
    ("@hourly", "2028-05-17T10:20Z", ["2028-05-17T11:00:00Z", "2028-05-17T12:00:00Z"]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), DIALECT_CASES)
def test_dialect_fire_times(expression: str, after: str, expected: list[str]) -> None:
    assert iso(cron_fire_times(expression, "UTC", at(after), len(expected))) == expected


def test_local_zone_and_any_after_zone() -> None:
    after = datetime(2028, 1, 1, 5, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2027-12-31T20:00Z
    assert iso(cron_fire_times("0 12 * * FRI#3", "Europe/Berlin", after, 2)) == [
        "2028-01-21T11:00:00Z",
        "2028-02-18T11:00:00Z",
    ]


def test_strictly_after_and_sub_second_after() -> None:
    assert iso(cron_fire_times("0 * * * *", "UTC", at("2028-01-01T09:00Z"), 1)) == ["2028-01-01T10:00:00Z"]
    assert iso(cron_fire_times("* * * * * *", "UTC", at("2028-01-01T09:00:00.500Z"), 2)) == [
        "2028-01-01T09:00:01Z",
        "2028-01-01T09:00:02Z",
    ]
    assert next_cron_fire("30 2 * * *", "Europe/Berlin", at("2028-03-25T12:00Z")) == at("2028-03-26T01:00Z")


def test_until_is_inclusive_and_count_is_a_cap() -> None:
    fires = cron_fire_times("0 * * * *", "UTC", at("2028-01-01T00:00Z"), 10, until=at("2028-01-01T03:00Z"))
    assert iso(fires) == ["2028-01-01T01:00:00Z", "2028-01-01T02:00:00Z", "2028-01-01T03:00:00Z"]
    assert cron_fire_times("0 * * * *", "UTC", at("2028-01-01T00:00Z"), 0) == []
    assert (
        len(cron_fire_times("0 * * * *", "UTC", at("2028-01-01T00:00Z"), 2, until=at("2029-01-01T00:00Z")))
        == 2
    )


def test_naive_datetimes_and_negative_count_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cron_fire_times("* * * * *", "UTC", datetime(2028, 1, 1), 1)
    with pytest.raises(ValueError, match="count"):
        cron_fire_times("* * * * *", "UTC", at("2028-01-01T00:00Z"), -1)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  0   0 * *  mon ", "0 0 * * MON"),
        ("@daily", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
        ("*/20 * * * * *", "*/20 * * * * *"),
        ("0 0 15w * *", "0 0 15W * *"),
    ],
)
def test_validate_cron_normalises(raw: str, normalised: str) -> None:
    assert validate_cron(raw) == normalised


def test_every_macro_is_accepted() -> None:
    assert {m: validate_cron(m) for m in MACROS} == MACROS


# --- refusals ---------------------------------------------------------------------------------

REFUSALS = [
    ("0 0 30 2 *", "never_fires", "cron: day-of-month 30 never occurs in February"),
    ("0 0 31 2 *", "never_fires", "cron: day-of-month 31 never occurs in February"),
    (
        "0 0 31 4,6,9,11 *",
        "never_fires",
        "cron: day-of-month 31 never occurs in April, June, September or November",
    ),
    ("0 0 30W 2 *", "never_fires", "cron: day-of-month 30 never occurs in February"),
    (
        "0 0 */40 * MON#5",
        "never_fires",
        "cron: the expression never fires",
    ),  # only the 1st, never a 5th Monday
    ("61 * * * *", "invalid", "cron: minute field: 61 is out of range 0-59"),
    ("0 24 * * *", "invalid", "cron: hour field: 24 is out of range 0-23"),
    ("60 * * * * *", "invalid", "cron: second field: 60 is out of range 0-59"),
    ("0 0 32W * *", "invalid", "cron: day-of-month field: 32 is out of range 1-31"),
    ("0 0 * 13 *", "invalid", "cron: month field: 13 is out of range 1-12"),
    ("0 0 * * 8", "invalid", "cron: day-of-week field: 8 is out of range 0-7"),
    ("0 0 * * FRI#6", "invalid", "cron: day-of-week field: 'FRI#6': the week number after '#' must be 1-5"),
    ("*/0 * * * *", "invalid", "cron: minute field: step '0' in '*/0' must be a whole number of at least 1"),
    ("5-2 * * * *", "invalid", "cron: minute field: range '5-2' goes backwards"),
    ("0 0 ? * *", "invalid", "cron: day-of-month field: '?' is not supported; use '*'"),
    ("0 0 1 FOO *", "invalid", "cron: month field: 'FOO' is not valid here"),
    ("0 0 1,,2 * *", "invalid", "cron: day-of-month field: empty list item"),
    ("* * * *", "invalid", "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 "),
    (
        "0 0 * * * * *",
        "invalid",
        "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 ",
    ),
    ("@reboot", "invalid", "cron: unknown macro '@reboot'"),
    ("", "invalid", "cron: expression is empty"),
    ("   ", "invalid", "cron: expression is empty"),
]


@pytest.mark.parametrize(("expression", "code", "message"), REFUSALS)
def test_refusals(expression: str, code: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        validate_cron(expression)
    assert (info.value.field, info.value.code) == ("cron", code)
    assert str(info.value).startswith(message)
    with pytest.raises(CronError):  # every entry point refuses the same way
        cron_fire_times(expression, "UTC", at("2028-01-01T00:00Z"), 1)


def test_non_string_input_is_refused_and_errors_pickle() -> None:
    with pytest.raises(CronError) as info:
        validate_cron(None)  # type: ignore[arg-type]
    assert (info.value.field, info.value.code) == ("cron", "invalid")
    with pytest.raises(CronError) as info:
        cron_fire_times("* * * * *", ["UTC"], at("2028-01-01T00:00Z"), 1)  # type: ignore[arg-type]
    assert info.value.code == "bad_tz"
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.field, copy.code, str(copy)) == (info.value.field, info.value.code, str(info.value))


def test_bad_time_zone() -> None:
    with pytest.raises(CronError) as info:
        validate_time_zone("Mars/Base")
    assert (info.value.field, info.value.code) == ("tz", "bad_tz")
    assert str(info.value) == (
        "tz: 'Mars/Base' is not an IANA time zone name; use names such as 'Europe/Berlin' or "
        "'America/New_York' (see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones)"
    )
    with pytest.raises(CronError, match=r"did you mean 'Europe/Berlin'\?"):
        validate_time_zone("europe/berlin")
    for bad in ("localtime", "+02:00", "../etc/passwd", 5):
        with pytest.raises(CronError):
            validate_time_zone(bad)  # type: ignore[arg-type]
    with pytest.raises(CronError) as info:
        validate_cron("0 0 * * *", "Mars/Base")
    assert info.value.field == "tz"


@pytest.mark.parametrize(
    ("name", "key"), [(None, "UTC"), ("", "UTC"), (" Europe/Berlin ", "Europe/Berlin"), ("UTC", "UTC")]
)
def test_good_time_zone(name: str | None, key: str) -> None:
    assert validate_time_zone(name).key == key


# --- intervals --------------------------------------------------------------------------------

ANCHOR = at("2030-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("after", "count", "until", "expected"),
    [
        (
            ANCHOR + timedelta(seconds=4),
            3,
            None,
            ["2030-01-01T00:00:04.500Z", "2030-01-01T00:00:06Z", "2030-01-01T00:00:07.500Z"],
        ),
        (
            ANCHOR - timedelta(days=1),
            2,
            None,
            ["2030-01-01T00:00:00Z", "2030-01-01T00:00:01.500Z"],
        ),  # anchor is fire 0
        (ANCHOR, 1, None, ["2030-01-01T00:00:01.500Z"]),  # strictly after
        (ANCHOR, 10, ANCHOR + timedelta(seconds=3), ["2030-01-01T00:00:01.500Z", "2030-01-01T00:00:03Z"]),
    ],
)
def test_interval_fire_times(
    after: datetime, count: int, until: datetime | None, expected: list[str]
) -> None:
    assert iso(interval_fire_times(ANCHOR, 1500, after, count, until=until)) == expected


def test_interval_has_no_drift_and_returns_utc() -> None:
    far = ANCHOR + timedelta(milliseconds=1500 * 10**9)
    assert interval_fire_times(ANCHOR, 1500, far - timedelta(microseconds=1), 1) == [far]
    berlin_anchor = datetime(2030, 1, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    assert interval_fire_times(berlin_anchor, 60_000, ANCHOR, 1) == [ANCHOR + timedelta(minutes=1)]
    with pytest.raises(ValueError):
        interval_fire_times(ANCHOR, 0, ANCHOR, 1)


# --- descriptions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "tz", "text"),
    [
        ("0 0 * * *", "America/New_York", "At 00:00, every day (America/New_York)"),
        ("@daily", None, "At 00:00, every day (UTC)"),
        ("30 2 * * *", "Europe/Berlin", "At 02:30, every day (Europe/Berlin)"),
        ("0 9 1 * MON", "UTC", "At 09:00, on day 1 of the month, or on Monday (UTC)"),
        ("0 0 L * *", "UTC", "At 00:00, on the last day of the month (UTC)"),
        ("0 12 * * FRI#3", "UTC", "At 12:00, on the third Friday of the month (UTC)"),
        ("0 0 15W * *", "UTC", "At 00:00, on the weekday nearest day 15 of the month (UTC)"),
        ("*/20 * * * * *", "UTC", "Every 20 seconds (UTC)"),
        ("*/15 * * * *", "UTC", "Every 15 minutes (UTC)"),
    ],
)
def test_describe_cron(expression: str, tz: str | None, text: str) -> None:
    assert describe_cron(expression, tz) == text


@pytest.mark.parametrize(
    ("every_ms", "text"),
    [
        (5000, "every 5 seconds"),
        (1500, "every 1.5 seconds"),
        (1000, "every second"),
        (120_000, "every 2 minutes"),
        (90_000, "every 90 seconds"),
        (3_600_000, "every hour"),
        (86_400_000, "every day"),
        (250, "every 250 milliseconds"),
        (61_250, "every 61.25 seconds"),
    ],
)
def test_describe_interval(every_ms: int, text: str) -> None:
    assert describe_interval(every_ms) == text


# --- Celery beat ------------------------------------------------------------------------------


def fixed_now(iso_text: str) -> Callable[[], datetime]:
    return lambda: at(iso_text)


@pytest.mark.parametrize(
    ("last_run_at", "now", "due", "next_s"),
    [
        ("2028-01-01T08:00Z", "2028-01-01T09:00:30Z", True, 86_370.0),  # 09:00 passed: run, next in 23:59:30
        ("2028-01-01T09:00Z", "2028-01-01T09:00:30Z", False, 86_370.0),  # already ran at 09:00
        ("2027-12-01T09:00Z", "2028-01-01T09:00:30Z", True, 86_370.0),  # many missed: one catch-up run
        ("2028-01-01T09:00Z", "2028-01-02T08:59:00Z", False, 60.0),
    ],
)
def test_cron_schedule_is_due(last_run_at: str, now: str, due: bool, next_s: float) -> None:
    schedule = CronSchedule("0 9 * * *", "UTC", nowfun=fixed_now(now))
    assert tuple(schedule.is_due(at(last_run_at))) == (due, next_s)


def test_cron_schedule_follows_dst_and_estimates() -> None:
    schedule = CronSchedule("30 2 * * *", "Europe/Berlin", nowfun=fixed_now("2028-03-25T12:00Z"))
    assert tuple(schedule.is_due(at("2028-03-25T01:30Z"))) == (False, 13 * 3600.0)  # due at 03:00 CEST
    assert schedule.remaining_estimate(at("2028-03-25T01:30Z")) == timedelta(hours=13)
    assert schedule.next_after(at("2028-03-25T12:00Z")) == at("2028-03-26T01:00Z")
    naive = datetime(2028, 3, 25, 1, 30)  # naive last_run_at is UTC, as in celery
    assert schedule.remaining_estimate(naive) == timedelta(hours=13)


def test_cron_schedule_identity() -> None:
    a = CronSchedule("  30 2 * * * ", "Europe/Berlin")
    b = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert a == b and hash(a) == hash(b)
    assert a != CronSchedule("30 2 * * *", "UTC")
    assert repr(a) == "<CronSchedule '30 2 * * *' Europe/Berlin>"
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(CronError):
        CronSchedule("0 0 30 2 *")
    with pytest.raises(CronError):
        CronSchedule("0 0 * * *", "Mars/Base")


def test_interval_schedule() -> None:
    now = ANCHOR + timedelta(seconds=5)
    schedule = IntervalSchedule(ANCHOR, 1500, nowfun=lambda: now)
    assert tuple(schedule.is_due(ANCHOR + timedelta(seconds=4.5))) == (False, 1.0)
    assert tuple(schedule.is_due(ANCHOR + timedelta(seconds=3))) == (True, 1.0)
    assert schedule.remaining_estimate(ANCHOR + timedelta(seconds=4.5)) == timedelta(seconds=1)
    assert schedule == IntervalSchedule(ANCHOR, 1500) and schedule != IntervalSchedule(ANCHOR, 1000)
    assert pickle.loads(pickle.dumps(IntervalSchedule(ANCHOR, 1500))) == schedule
    assert repr(schedule) == "<IntervalSchedule every 1.5 seconds from 2030-01-01T00:00:00+00:00>"
