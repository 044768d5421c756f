"""The typed schedule definition (issue 18, item 1): made once, from the API's JSON or from a form's
cleaned fields, by the same rules; a refusal names its JSON path, its stable code and the definition's
field, which is where a form shows it."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from scheduling.definition import (
    FIELD_OF_PATH,
    KEEP,
    DefinitionError,
    ScheduleDefinition,
    ScheduleTiming,
    definition_parse,
    timing_parse,
)
from scheduling.forms import SchedulePageForm
from scheduling.models import Overlap, ScheduleKind

NOW = datetime(2030, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def refusal(spec, **body) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        definition_parse(name="echo", data=None, schedule=spec, now=NOW, **body)
    return caught.value


def test_json_becomes_a_frozen_typed_definition():
    parsed = definition_parse(
        name="echo",
        data={"k": 1},
        options={"attempts": 2},
        schedule={
            "pattern": "30 2 * * *",
            "tz": "Europe/Berlin",
            "startDate": "2030-02-01T00:00:00+01:00",
            "limit": 3,
            "overlap": "skip",
        },
        now=NOW,
    )
    assert parsed == ScheduleDefinition(
        name="echo",
        data={"k": 1},
        options={"attempts": 2},
        timing=ScheduleTiming(
            kind=ScheduleKind.CRON,
            cron_expression="30 2 * * *",
            time_zone="Europe/Berlin",
            start_at=datetime(2030, 1, 31, 23, tzinfo=UTC),
            limit=3,
            overlap=Overlap.SKIP,
        ),
    )
    with pytest.raises(AttributeError):
        parsed.name = "other"  # type: ignore[misc]
    assert "immediately" not in parsed.timing.model_fields()


def test_bullmq_flat_every_and_repeat_object_are_the_same_interval():
    flat = timing_parse({"every": 5000, "offset": 1000, "limit": 4}, now=NOW)
    nested = timing_parse({"repeat": {"every": 5000, "offset": 1000, "limit": 4}}, now=NOW)
    assert flat == nested == ScheduleTiming(kind=ScheduleKind.EVERY, every_ms=5000, offset_ms=1000, limit=4)


@pytest.mark.parametrize(
    ("spec", "path", "field", "code", "message"),
    [
        (
            {"cron": "0 0 31 2 *"},
            "schedule.cron",
            "cron_expression",
            "never_fires",
            "schedule.cron: day-of-month 31 never occurs in February",
        ),
        (
            {"cron": "0 9 * * *", "tz": "Mars/Olympus"},
            "schedule.tz",
            "time_zone",
            "bad_tz",
            None,
        ),
        (
            {"repeat": {"every": 5}},
            "schedule.repeat.every",
            "every_ms",
            "invalid",
            None,
        ),
        (
            {"repeat": {"every": 5000, "bogus": 1}},
            "schedule.repeat",
            "every_ms",
            "invalid",
            "schedule.repeat: unknown key(s) bogus; allowed: every, limit, offset",
        ),
        (
            {"at": "2031-01-01T00:00:00Z", "endDate": 99999999999999999},
            "schedule.endDate",
            "end_at",
            "invalid",
            "schedule.endDate: 99999999999999999 is not a valid epoch-milliseconds time",
        ),
        (
            {"at": "10000-01-01T00:00:00Z"},
            "schedule.at",
            "at",
            "invalid",
            None,
        ),
        (
            {"every": 1000, "repeat": {"every": 1000}},
            "schedule.every",
            None,
            "invalid",
            "schedule.every: give every either at the top or in repeat, not both",
        ),
        (
            {"cron": "0 9 * * *", "every": 1000},
            "schedule",
            None,
            "invalid",
            "schedule: give exactly one of cron, repeat (with every) or at",
        ),
        (
            {"cron": "0 9 * * *", "immediately": True, "startDate": "2030-02-01T00:00:00Z"},
            "schedule.immediately",
            "immediately",
            "invalid",
            "schedule.immediately: cannot be combined with startDate",
        ),
        (
            {"every": 1000, "offset": 1000},
            "schedule.offset",
            "offset_ms",
            "invalid",
            "schedule.offset: must be an integer number of milliseconds from 0 to every - 1 (999)",
        ),
        (
            {"at": "0001-01-01T00:00:00+01:00"},
            "schedule.at",
            "at",
            "out_of_range",
            "schedule.at: must be between 0001-01-02T00:00:00Z and 9999-12-30T23:59:59Z",
        ),
    ],
)
def test_a_refusal_names_its_path_code_and_field(spec, path, field, code, message):
    error = refusal(spec)
    assert (error.path, error.field, error.code) == (path, field, code)
    assert list(error.message_dict) == [path]
    assert error.error_dict[path][0].code == code
    if message is not None:
        assert error.message_dict[path] == [message]


def test_job_fields_are_checked_before_the_timing():
    with pytest.raises(ValidationError) as caught:
        definition_parse(name="nope", data=None, schedule={"cron": "bad"}, now=NOW)
    assert list(caught.value.message_dict) == ["name"]
    error = refusal({"cron": "0 9 * * *"}, options={"jobId": "x"})
    assert (error.path, error.field) == ("options", "options")
    assert error.messages == ["options.jobId: not allowed on a schedule; each run gets its own job id"]


def test_every_json_path_of_the_definition_is_declared_on_a_field():
    assert FIELD_OF_PATH == {
        "name": "name",
        "data": "data",
        "options": "options",
        "queue": "queue",
        "flow": "flow",
        "schedule.cron": "cron_expression",
        "schedule.tz": "time_zone",
        "schedule.repeat": "every_ms",
        "schedule.repeat.every": "every_ms",
        "schedule.offset": "offset_ms",
        "schedule.at": "at",
        "schedule.startDate": "start_at",
        "schedule.endDate": "end_at",
        "schedule.limit": "limit",
        "schedule.overlap": "overlap",
        "schedule.immediately": "immediately",
    }


def test_the_page_form_makes_the_same_definition_as_the_json():
    form = SchedulePageForm(
        {
            "name": "echo",
            "data": '{"k": 1}',
            "kind": "every",
            "every": "90",
            "every_unit": "s",
            "offset": "1000",
            "limit": "4",
            "overlap": "skip",
            "time_zone": "Europe/Berlin",  # a cron's field: not part of an interval
            "options": "",
        }
    )
    assert form.is_valid(), form.errors
    # The page does not show a schedule's flow: its definition keeps the stored one.
    assert form.definition(now=NOW) == replace(definition_parse(
        name="echo",
        data={"k": 1},
        options=None,
        schedule={"repeat": {"every": 90_000, "offset": 1000, "limit": 4}, "overlap": "skip"},
        now=NOW,
    ), flow=KEEP)


def test_the_page_form_puts_a_refusal_on_the_field_the_definition_names():
    form = SchedulePageForm(
        {
            "name": "echo",
            "data": "{}",
            "kind": "every",
            "every": "30",
            "every_unit": "s",
            "offset": "40000",
            "overlap": "allow",
        }
    )
    assert form.is_valid(), form.errors
    assert form.save_through_service(owner=None) is None
    assert form.errors == {
        "offset": ["Must be an integer number of milliseconds from 0 to every - 1 (29999)"]
    }
