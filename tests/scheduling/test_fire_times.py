"""Fire times, table-driven, through the preview endpoint AND through beat's dispatch path.

The dispatch side drives ``services.schedules_dispatch_due(now=...)`` with a controllable clock and
a ``send`` that collects the fire batches, then hands each batch to ``services.schedules_fire``:
exactly what beat's tick and the ``fire_schedules`` task do, minus the broker hop.
"""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import Job
from scheduling import services
from scheduling.models import Schedule

pytestmark = pytest.mark.django_db


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# (spec, from, expected UTC fire times)
CASES = [
    pytest.param(
        {"cron": "30 2 * * *", "tz": "Europe/Berlin"},
        "2028-03-24T12:00:00Z",
        ["2028-03-25T01:30:00Z", "2028-03-26T01:00:00Z", "2028-03-27T00:30:00Z"],
        id="berlin-spring-forward-skipped-time-fires-once-after-the-jump",
    ),
    pytest.param(
        {"cron": "30 2 * * *", "tz": "Europe/Berlin"},
        "2028-10-27T12:00:00Z",
        ["2028-10-28T00:30:00Z", "2028-10-29T00:30:00Z", "2028-10-30T01:30:00Z"],
        id="berlin-fall-back-repeated-time-fires-once-first-occurrence",
    ),
    pytest.param(
        {"cron": "*/15 * * * *", "tz": "Europe/Berlin"},
        "2028-10-28T23:50:00Z",
        [
            "2028-10-29T00:00:00Z",
            "2028-10-29T00:15:00Z",
            "2028-10-29T00:30:00Z",
            "2028-10-29T00:45:00Z",
            "2028-10-29T01:00:00Z",
            "2028-10-29T01:15:00Z",
            "2028-10-29T01:30:00Z",
            "2028-10-29T01:45:00Z",
            "2028-10-29T02:00:00Z",
        ],
        id="steps-through-fall-back-follow-real-minutes",
    ),
    pytest.param(
        {"cron": "*/30 * * * *", "tz": "Europe/Berlin"},
        "2028-03-26T00:10:00Z",
        ["2028-03-26T00:30:00Z", "2028-03-26T01:00:00Z", "2028-03-26T01:30:00Z"],
        id="steps-through-spring-forward-no-hole",
    ),
    pytest.param(
        {"cron": "0 9 1 * MON"},
        "2028-08-28T12:00:00Z",
        [
            "2028-09-01T09:00:00Z",
            "2028-09-04T09:00:00Z",
            "2028-09-11T09:00:00Z",
            "2028-09-18T09:00:00Z",
            "2028-09-25T09:00:00Z",
            "2028-10-01T09:00:00Z",
            "2028-10-02T09:00:00Z",
        ],
        id="day-of-month-OR-day-of-week",
    ),
    pytest.param(
        {"cron": "0 0 L * *"},
        "2028-01-15T00:00:00Z",
        ["2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z", "2028-04-30T00:00:00Z"],
        id="L-last-day-of-month",
    ),
    pytest.param(
        {"cron": "0 12 * * FRI#3"},
        "2028-01-01T00:00:00Z",
        ["2028-01-21T12:00:00Z", "2028-02-18T12:00:00Z", "2028-03-17T12:00:00Z"],
        id="hash-third-friday",
    ),
    pytest.param(
        {"cron": "*/20 * * * * *"},
        "2028-01-01T00:00:05Z",
        ["2028-01-01T00:00:20Z", "2028-01-01T00:00:40Z", "2028-01-01T00:01:00Z", "2028-01-01T00:01:20Z"],
        id="six-fields-leading-seconds",
    ),
    pytest.param(
        {"cron": "0 0 * * *", "tz": "America/New_York"},
        "2028-07-01T00:00:00Z",
        ["2028-07-01T04:00:00Z", "2028-07-02T04:00:00Z"],
        id="new-york-midnight",
    ),
    pytest.param(
        {"cron": "@monthly", "tz": "Asia/Tokyo"},
        "2028-01-15T00:00:00Z",
        ["2028-01-31T15:00:00Z", "2028-02-29T15:00:00Z"],
        id="macro-in-a-zone",
    ),
]


@pytest.mark.parametrize(("spec", "after", "expected"), CASES)
def test_preview_fire_times(api, spec, after, expected):
    res = api.post(
        "/jobs/schedule/preview", {"schedule": spec, "count": len(expected), "from": after}, format="json"
    )
    assert res.status_code == 200, res.json()
    assert res.json()["upcoming"] == expected


def collect_dispatch(row: Schedule, count: int, *, step=None) -> list[datetime]:
    """Drive beat's dispatch with a fake clock set to each next fire time; return the jobs' fire times."""
    for _ in range(count):
        row.refresh_from_db()
        if row.next_fire_at is None:
            break
        now = row.next_fire_at if step is None else step(row.next_fire_at)
        batches: list = []
        assert services.schedules_dispatch_due(now=now, send=batches.append) == 1
        assert services.schedules_dispatch_due(now=now, send=batches.append) == 0  # advanced: not due twice
        for batch in batches:
            services.schedules_fire(fires=[(pk, Z(at)) for pk, at in batch])
            services.schedules_fire(fires=[(pk, Z(at)) for pk, at in batch])  # a redelivered message
    return list(Job.objects.filter(schedule=row).order_by("fire_at").values_list("fire_at", flat=True))


@pytest.mark.parametrize(("spec", "after", "expected"), CASES)
def test_beat_dispatch_fire_times(owner, spec, after, expected):
    row = services.schedule_create(owner=owner, name="echo", data={}, schedule={**spec, "startDate": after})
    fires = collect_dispatch(row, len(expected))
    assert fires == [Z(e) for e in expected]
    row.refresh_from_db()
    assert row.run_count == len(expected) and row.last_run_at == Z(expected[-1])


def test_never_firing_cron_is_refused_by_preview_and_create(api):
    for path, body in (
        ("/jobs/schedule/preview", {"schedule": {"cron": "0 0 30 2 *"}}),
        ("/jobs/schedule", {"name": "echo", "data": {}, "schedule": {"cron": "0 0 30 2 *"}}),
    ):
        res = api.post(path, body, format="json")
        assert res.status_code == 400
        assert list(res.json()["errors"]) == ["schedule.cron"]
        assert "February" in res.json()["message"], res.json()


def test_preview_bad_input(api):
    cases = [
        ({"schedule": {"cron": "* * * * *"}, "count": 0}, "count"),
        ({"schedule": {"cron": "* * * * *"}, "count": 101}, "count"),
        ({"schedule": {"cron": "* * * * *"}, "count": "3"}, "count"),
        ({"schedule": {"cron": "* * * * *"}, "from": "yesterday"}, "from"),
        ({"schedule": {"cron": "* * * * *", "tz": "Nowhere/City"}}, "schedule.tz"),
        ({"schedule": {"cron": "0 0 * * * * *"}}, "schedule.cron"),
        ({}, "schedule"),
    ]
    for body, field in cases:
        res = api.post("/jobs/schedule/preview", body, format="json")
        assert res.status_code == 400, (body, res.json())
        assert list(res.json()["errors"]) == [field], (body, res.json())


def test_preview_default_count_and_interval_anchor(api):
    res = api.post(
        "/jobs/schedule/preview",
        {
            "schedule": {"repeat": {"every": 2000}, "startDate": "2028-01-01T00:00:00Z"},
            "from": "2028-01-01T00:00:03Z",
        },
        format="json",
    )
    assert res.status_code == 200
    assert res.json() == {
        "description": "Every 2 seconds",
        "upcoming": [
            "2028-01-01T00:00:04Z",
            "2028-01-01T00:00:06Z",
            "2028-01-01T00:00:08Z",
            "2028-01-01T00:00:10Z",
            "2028-01-01T00:00:12Z",
        ],
    }
    assert Schedule.objects.count() == 0


T0 = Z("2028-01-01T00:00:00Z")


def test_interval_anchor_is_durable_and_fire_zero_is_the_anchor(owner):
    row = services.schedule_create(
        owner=owner,
        name="echo",
        data={},
        schedule={"repeat": {"every": 2000}, "startDate": "2028-01-01T00:00:00Z"},
    )
    assert row.anchor_at == T0 and row.next_fire_at == T0
    # late ticks (beat woke 300 ms late) never shift the cadence
    fires = collect_dispatch(row, 4, step=lambda at: at + timedelta(milliseconds=300))
    assert fires == [T0 + timedelta(seconds=2 * k) for k in range(4)]


def test_catch_up_after_downtime_is_one_run_then_cadence(owner):
    row = services.schedule_create(
        owner=owner,
        name="echo",
        data={},
        schedule={"repeat": {"every": 2000}, "startDate": "2028-01-01T00:00:00Z"},
    )
    sent: list = []
    assert services.schedules_dispatch_due(now=T0, send=sent.extend) == 1
    # beat is down for 5 fires (T0+2 .. T0+10) and comes back at T0+10.5
    assert services.schedules_dispatch_due(now=T0 + timedelta(seconds=10.5), send=sent.extend) == 1
    assert services.schedules_dispatch_due(now=T0 + timedelta(seconds=11.9), send=sent.extend) == 0
    assert services.schedules_dispatch_due(now=T0 + timedelta(seconds=12), send=sent.extend) == 1
    services.schedules_fire(fires=[(pk, Z(at)) for pk, at in sent])
    fires = list(Job.objects.filter(schedule=row).order_by("fire_at").values_list("fire_at", flat=True))
    # the catch-up run carries the first missed nominal time; the next run is back on the anchor's grid
    assert fires == [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=12)]
    row.refresh_from_db()
    assert row.run_count == 3 and row.next_fire_at == T0 + timedelta(seconds=14)


def test_limit_counts_runs_durably_and_ends(owner):
    row = services.schedule_create(
        owner=owner,
        name="echo",
        data={},
        schedule={"repeat": {"every": 1000, "limit": 3}, "startDate": "2028-01-01T00:00:00Z"},
    )
    fires = collect_dispatch(row, 5)
    assert fires == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    row.refresh_from_db()
    assert (row.state, row.run_count, row.next_fire_at) == ("ended", 3, None)
    assert row.periodic_task.enabled is False
    assert services.schedules_dispatch_due(now=T0 + timedelta(days=1), send=lambda f: None) == 0


def test_start_and_end_are_inclusive(owner):
    row = services.schedule_create(
        owner=owner,
        name="echo",
        data={},
        schedule={
            "cron": "0 * * * *",
            "startDate": "2028-01-01T00:00:00Z",
            "endDate": "2028-01-01T02:00:00Z",
        },
    )
    fires = collect_dispatch(row, 5)
    assert fires == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    row.refresh_from_db()
    assert row.state == "ended" and row.next_fire_at is None


def test_one_time_at_fires_once_and_never_again(owner):
    row = services.schedule_create(owner=owner, name="echo", data={}, schedule={"at": "2028-01-01T00:00:00Z"})
    assert collect_dispatch(row, 3) == [T0]
    row.refresh_from_db()
    assert (row.state, row.run_count, row.next_fire_at) == ("ended", 1, None)
    # a redefinition of the ended one-time schedule (same `at`) does not bring the run back
    services.schedule_update(schedule=row, changes={"data": {"x": 1}})
    row.refresh_from_db()
    assert row.state == "ended" and row.next_fire_at is None


def test_overlap_skip_records_the_skipped_fire(owner):
    row = services.schedule_create(
        owner=owner,
        name="echo",
        data={},
        schedule={"repeat": {"every": 1000}, "overlap": "skip", "startDate": "2028-01-01T00:00:00Z"},
    )
    fires = collect_dispatch(row, 2)
    assert fires == [T0, T0 + timedelta(seconds=1)]
    jobs = list(Job.objects.filter(schedule=row).order_by("fire_at"))
    assert [j.state for j in jobs] == ["waiting", "cancelled"]
    assert jobs[1].failed_reason == "skipped: the previous run of this schedule was still waiting or active"
    Job.objects.filter(pk=jobs[0].pk).update(state="completed")
    collect_dispatch(row, 1)
    assert list(Job.objects.filter(schedule=row).order_by("fire_at").values_list("state", flat=True)) == [
        "completed",
        "cancelled",
        "waiting",
    ]
    row.refresh_from_db()
    assert row.run_count == 3  # a skipped fire is a fire: it counts toward `limit`


def test_changes_are_read_by_the_next_dispatch(owner):
    row = services.schedule_create(
        owner=owner,
        name="echo",
        data={},
        schedule={"repeat": {"every": 2000}, "startDate": "2028-01-01T00:00:00Z"},
    )
    assert collect_dispatch(row, 1) == [T0]
    services.schedule_update(schedule=row, changes={"schedule": {"repeat": {"every": 5000}}})
    row.refresh_from_db()
    assert row.next_fire_at == T0 + timedelta(seconds=5)  # anchored: k*5s from the same anchor
    assert collect_dispatch(row, 1)[-1] == T0 + timedelta(seconds=5)
    services.schedule_pause(schedule=row)
    assert services.schedules_dispatch_due(now=T0 + timedelta(days=1), send=lambda f: None) == 0
    services.schedule_resume(schedule=row)
    row.refresh_from_db()
    assert row.next_fire_at == T0 + timedelta(seconds=10)
    due_batches: list = []
    assert services.schedules_dispatch_due(now=T0 + timedelta(seconds=10), send=due_batches.append) == 1
    services.schedule_delete(schedule=row)
    # the fire sent just before the delete finds no schedule: no job
    assert services.schedules_fire(fires=[(pk, Z(at)) for pk, at in due_batches[0]]) == 0
    assert services.schedules_dispatch_due(now=T0 + timedelta(days=1), send=lambda f: None) == 0


def test_dispatch_inserts_the_jobs_of_many_due_schedules_with_the_fires(owner):
    rows = [
        services.schedule_create(
            owner=owner,
            name="echo",
            data={"i": i},
            schedule={"cron": "* * * * *", "startDate": "2028-01-01T00:00:00Z"},
        )
        for i in range(450)
    ]
    batches: list = []
    assert services.schedules_dispatch_due(now=T0, send=batches.append, batch_size=1000) == 450
    assert [len(b) for b in batches] == [450]
    # Durable fires (issue 14): the jobs exist as soon as the dispatch committed; a fire message of an
    # older release then finds them and creates nothing.
    assert Job.objects.filter(fire_at=T0, state="waiting").count() == 450
    assert services.schedules_fire(fires=[(pk, Z(at)) for b in batches for pk, at in b]) == 0
    assert sorted(Job.objects.values_list("data__i", flat=True)) == list(range(450))
    assert {r.pk for r in rows} == set(Job.objects.values_list("schedule_id", flat=True))
