from datetime import UTC, datetime

from django_celery_beat.models import PeriodicTask

from scheduling.api.views import SEED_SCHEDULE_BODY
from scheduling.models import Schedule

SEED_PAYLOAD = SEED_SCHEDULE_BODY  # the documented example of POST /jobs/schedule


def test_seed_payload_creates_schedule_and_periodic_task(api, owner):
    res = api.post("/jobs/schedule", SEED_PAYLOAD, format="json")
    assert res.status_code == 201, res.json()
    body = res.json()
    row = Schedule.objects.get(scheduler_id=body["schedulerId"])
    assert row.owner == owner and row.kind == "cron" and row.time_zone == "America/New_York"
    # 2030-07-01 00:00 UTC is 20:00 on June 30 in New York: the so the first fire is local midnight of July 1
    assert body["nextRunAt"] == "2030-07-01T04:00:00Z"
    assert body["upcoming"][:3] == ["2030-07-01T04:00:00Z", "2030-07-02T04:00:00Z", "2030-07-03T04:00:00Z"]
    # BullMQ's JobSchedulerJson types (the React client of the original does `new Date(job.next)`)
    assert body["next"] == 1909108800000  # 2030-07-01T04:00:00Z in epoch ms
    assert body["endDate"] == 1924905600000  # 2030-12-31T00:00:00Z in epoch ms
    assert body["key"] == body["id"] == body["schedulerId"]
    assert (body["pattern"], body["tz"], body["every"], body["offset"], body["iterationCount"]) == (
        "0 0 * * *", "America/New_York", None, 0, 1,  # BullMQ counts the pending iteration
    )
    assert body["state"] == "active" and body["runCount"] == 0 and body["lastRunAt"] is None
    assert body["schedule"] == {
        "cron": "0 0 * * *",
        "tz": "America/New_York",
        "startDate": "2030-07-01T00:00:00Z",
        "endDate": "2030-12-31T00:00:00Z",
    }
    assert body["options"] == SEED_PAYLOAD["options"]
    task = PeriodicTask.objects.get(pk=row.periodic_task_id)
    assert task.task == "scheduling.tasks.fire_schedule" and task.queue == "schedules" and task.enabled
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "0",
        "0",
        "*",
        "*",
        "*",
    )
    assert str(cron.timezone) == "America/New_York"
    assert task.start_time == datetime(2030, 7, 1, tzinfo=UTC)
    assert task.expires == datetime(2030, 12, 31, tzinfo=UTC)


def test_repeat_every_with_limit_is_projected_as_an_interval(api):
    res = api.post(
        "/jobs/schedule",
        {"name": "echo", "data": {"msg": "hi"}, "schedule": {"repeat": {"every": 1000, "limit": 3}}},
        format="json",
    )
    assert res.status_code == 201
    body = res.json()
    assert body["schedule"] == {"repeat": {"every": 1000, "limit": 3}}
    assert body["limit"] == 3 and len(body["upcoming"]) == 3
    row = Schedule.objects.get(scheduler_id=body["schedulerId"])
    assert (row.periodic_task.interval.every, row.periodic_task.interval.period) == (1, "seconds")


def test_interval_projection_fits_django_celery_beats_integer_field(api):
    """`every` beyond 2^31 microseconds (~35.8 min) overflowed IntervalSchedule.every (500 on PostgreSQL)."""
    cases = [
        (1500, (1_500_000, "microseconds")),
        (90_000, (90, "seconds")),
        (3_600_000, (1, "hours")),
        (2 * 86_400_000, (2, "days")),
        (3_600_001, None),  # not exact in any unit that fits: no projection (was rounded to 3600 s)
    ]
    for every, projected in cases:
        body = {"name": "echo", "data": {}, "schedule": {"repeat": {"every": every}}}
        res = api.post("/jobs/schedule", body, format="json")
        assert res.status_code == 201, res.json()
        task = Schedule.objects.get(scheduler_id=res.json()["schedulerId"]).periodic_task
        assert (task and (task.interval.every, task.interval.period)) == projected


def test_get_list_and_delete_are_scoped_to_the_owner(api, other_api):
    sid = api.post("/jobs/schedule", SEED_PAYLOAD, format="json").json()["schedulerId"]
    assert api.get(f"/jobs/schedule/{sid}").json()["schedulerId"] == sid
    listing = api.get("/jobs/schedule").json()
    assert [s["schedulerId"] for s in listing["scheduledJobs"]] == [sid]
    assert listing["pagination"] == {"total": 1, "page": 1, "limit": 10, "pages": 1}
    assert other_api.get("/jobs/schedule").json()["scheduledJobs"] == []
    assert other_api.get(f"/jobs/schedule/{sid}").status_code == 404
    assert other_api.delete(f"/jobs/schedule/{sid}").status_code == 404
    assert Schedule.objects.filter(scheduler_id=sid).exists()
    res = api.delete(f"/jobs/schedule/{sid}/")
    assert res.status_code == 200 and res.json() == {"message": "Scheduled job removed successfully"}
    assert not Schedule.objects.filter(scheduler_id=sid).exists()
    assert PeriodicTask.objects.filter(name__startswith="schedule:").count() == 0
    assert api.get(f"/jobs/schedule/{sid}").status_code == 404


def test_bad_schedules_are_400_naming_the_field(api):
    cases = [
        ({"cron": "61 * * * *"}, "schedule.cron"),
        ({"cron": "0 0 30 2 *"}, "schedule.cron"),
        ({"cron": "0 0 * * *", "tz": "Mars/Base"}, "schedule.tz"),
        ({"repeat": {"every": 10}}, "schedule.repeat.every"),
        ({"repeat": {"every": 1000, "limit": 0}}, "schedule.limit"),
        ({"cron": "* * * * *", "repeat": {"every": 1000}}, "schedule"),
        ({}, "schedule"),
        (
            {"cron": "* * * * *", "startDate": "2030-01-02T00:00:00Z", "endDate": "2030-01-01T00:00:00Z"},
            "schedule.endDate",
        ),
        ({"cron": "* * * * *", "endDate": "2020-01-01T00:00:00Z"}, "schedule.endDate"),
        ({"at": "2020-01-01T00:00:00Z"}, "schedule.at"),
        ({"cron": "* * * * *", "startDate": "2030-01-01T00:00:00"}, "schedule.startDate"),
    ]
    for spec, field in cases:
        res = api.post("/jobs/schedule", {"name": "echo", "data": {}, "schedule": spec}, format="json")
        assert res.status_code == 400, (spec, res.json())
        assert list(res.json()["errors"]) == [field], (spec, res.json())
        assert res.json()["message"].startswith(field), res.json()
    assert Schedule.objects.count() == 0
