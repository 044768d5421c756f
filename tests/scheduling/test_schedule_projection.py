"""The django-celery-beat projection: exact where Celery's crontab / interval can state the timing,
absent where it cannot, and never leaving orphan crontab/interval/clocked rows behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

from scheduling import cron, services
from scheduling.models import Schedule

pytestmark = pytest.mark.django_db

COLUMNS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def create(owner, **spec) -> Schedule:
    return services.schedule_create(owner=owner, name="echo", data={}, schedule=spec)


def crontab_of(row: Schedule) -> tuple | None:
    row.refresh_from_db()
    if row.periodic_task is None:
        return None
    return tuple(getattr(row.periodic_task.crontab, c) for c in COLUMNS)


def projection_rows() -> tuple[int, int, int, int]:
    return (
        PeriodicTask.objects.filter(name__startswith="schedule:").count(),
        CrontabSchedule.objects.count(),
        IntervalSchedule.objects.count(),
        ClockedSchedule.objects.count(),
    )


@pytest.mark.parametrize(
    ("expression", "columns"),
    [
        ("0 0 * * *", ("0", "0", "*", "*", "*")),
        ("*/15 9-17 * * MON-FRI", ("*/15", "9-17", "*", "*", "MON-FRI")),
        ("0 30 2 * * *", ("30", "2", "*", "*", "*")),  # a seconds field of 0 says nothing Celery can't
        ("0 12 * JAN,JUL 7", ("0", "12", "*", "JAN,JUL", "0")),  # day-of-week 7 is Celery's 0 (Sunday)
        ("5 4 1-7 * *", ("5", "4", "1-7", "*", "*")),
        ("@hourly", ("0", "*", "*", "*", "*")),
        ("0 0 * * 5-7", ("0", "0", "*", "*", "0,5-6")),
    ],
)
def test_cron_celery_can_state_is_projected_exactly(owner, expression, columns):
    row = create(owner, cron=expression, tz="Europe/Berlin")
    assert crontab_of(row) == columns
    assert str(row.periodic_task.crontab.timezone) == "Europe/Berlin"
    # Celery reads the columns as the very sets cronsim reads from the expression.
    ours = cron.celery_crontab_fields(row.cron_expression)
    celery = crontab(**ours)
    six = cron._compile(row.cron_expression).sim_expression.split()
    assert celery.minute == cron.Field.MINUTE.parse(six[1]) and celery.hour == cron.Field.HOUR.parse(six[2])


@pytest.mark.parametrize(
    "expression",
    [
        "*/10 * * * * *",  # seconds: Celery's crontab has minute resolution
        "30 0 9 * * *",
        "0 9 L * *",
        "0 9 LW * *",
        "0 9 15W * *",
        "0 9 * * 5L",
        "0 9 * * MON#2",
        "0 9 1 * MON",  # cron's day-of-month OR day-of-week; Celery requires both
    ],
)
def test_cron_celery_cannot_state_has_no_projection(owner, expression):
    row = create(owner, cron=expression)
    assert cron.celery_crontab_fields(row.cron_expression) is None
    assert crontab_of(row) is None
    assert projection_rows() == (0, 0, 0, 0)
    # The schedule itself is whole: its fire times come from scheduling.cron, not from the projection.
    assert row.next_fire_at is not None


def test_interval_that_is_not_a_whole_unit_nor_fits_microseconds_has_no_projection(owner):
    row = create(owner, repeat={"every": 3_600_001})
    assert row.periodic_task is None and projection_rows() == (0, 0, 0, 0)


def test_changing_the_cadence_replaces_the_timing_row_without_orphans(api, owner):
    sid = api.post(
        "/jobs/schedule", {"name": "echo", "data": {}, "schedule": {"cron": "0 9 * * *"}}, format="json"
    ).json()["schedulerId"]
    row = Schedule.objects.get(scheduler_id=sid)
    task_id = row.periodic_task_id
    assert projection_rows() == (1, 1, 0, 0)
    steps = [
        ({"cron": "0 10 * * *"}, (1, 1, 0, 0)),
        ({"repeat": {"every": 60_000}}, (1, 0, 1, 0)),
        ({"at": "2031-01-01T00:00:00Z"}, (1, 0, 0, 1)),
        ({"cron": "*/5 * * * * *"}, (0, 0, 0, 0)),  # seconds: the projection goes away
        ({"cron": "0 9 * * *", "tz": "Asia/Tokyo"}, (1, 1, 0, 0)),
    ]
    for spec, rows in steps:
        res = api.put(f"/jobs/schedule/{sid}", {"name": "echo", "data": {}, "schedule": spec}, format="json")
        assert res.status_code == 200, res.json()
        assert projection_rows() == rows, spec
    row.refresh_from_db()
    assert row.periodic_task.crontab.hour == "9" and str(row.periodic_task.crontab.timezone) == "Asia/Tokyo"
    assert row.periodic_task_id != task_id  # the task was removed with the seconds cron and made again


def test_unchanged_timing_keeps_its_row(owner):
    row = create(owner, cron="0 9 * * *")
    crontab_id = row.periodic_task.crontab_id
    services.schedule_pause(schedule=row)
    services.schedule_resume(schedule=row)
    services.schedule_update(schedule=row, changes={"data": {"x": 1}})
    row.refresh_from_db()
    assert row.periodic_task.crontab_id == crontab_id and projection_rows() == (1, 1, 0, 0)


def test_equal_timings_of_two_schedules_do_not_share_a_row(owner):
    first, second = create(owner, cron="0 9 * * *"), create(owner, cron="0 9 * * *")
    assert first.periodic_task.crontab_id != second.periodic_task.crontab_id
    services.schedule_delete(schedule=first)
    second.refresh_from_db()
    assert second.periodic_task.crontab.hour == "9" and projection_rows() == (1, 1, 0, 0)


def test_delete_removes_task_and_timing_row(owner):
    rows = [
        create(owner, cron="0 9 * * *"),
        create(owner, repeat={"every": 5000}),
        create(owner, at=(datetime.now(UTC) + timedelta(days=1)).isoformat()),
    ]
    assert projection_rows() == (3, 1, 1, 1)
    for row in rows:
        services.schedule_delete(schedule=row)
    assert projection_rows() == (0, 0, 0, 0)


def test_deleting_the_owner_leaves_no_projection_behind(owner):
    create(owner, cron="0 9 * * *")
    create(owner, repeat={"every": 5000})
    owner.delete()
    assert not Schedule.objects.exists() and projection_rows() == (0, 0, 0, 0)


def test_a_row_another_periodic_task_uses_is_kept(owner):
    """django-celery-beat's own ``from_schedule`` (system tasks) may pick up a row with equal fields."""
    row = create(owner, cron="0 9 * * *")
    shared = row.periodic_task.crontab
    system = PeriodicTask.objects.create(name="system", task="x", crontab=shared)
    services.schedule_delete(schedule=row)
    assert CrontabSchedule.objects.filter(pk=shared.pk).exists()
    assert PeriodicTask.objects.filter(pk=system.pk).exists()
