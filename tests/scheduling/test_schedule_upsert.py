"""Upserting a schedule behaves like BullMQ's ``upsertJobScheduler`` (issue 19): the pending fire and the
counters survive an upsert with the same timing, a new cadence takes effect as BullMQ's does, and a
paused or ended schedule stays so. Each test names the scenario of BullMQ's own suite it follows
(``tests/job_scheduler.test.ts``); docs/bullmq-job-schedulers.md lists them all.

Fires are made with beat's dispatch path on a controllable clock (``schedules_dispatch_due(now=...)``
then ``schedules_fire``); the upserts themselves run at the real now, so times they set are checked
against the instants read just before and after the request. tests/e2e/test_schedule_upsert_e2e.py
runs the same scenarios through real beat and worker processes.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from jobs.ids import epoch_ms
from jobs.models import Job
from scheduling import cron, services
from scheduling.models import Schedule
from scheduling.services import now_ms

pytestmark = pytest.mark.django_db


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def put(api, sid: str, schedule: dict, name: str = "echo", data=None, options=None):
    body = {"name": name, "data": {} if data is None else data, "schedule": schedule}
    if options is not None:
        body["options"] = options
    return api.put(f"/jobs/schedule/{sid}", body, format="json")


def fire(now: datetime) -> list[Job]:
    """One beat tick at ``now`` and the fire messages it sends, run: the jobs it created."""
    batches: list = []
    services.schedules_dispatch_due(now=now, send=batches.append)
    fires = [(pk, Z(at)) for batch in batches for pk, at in batch]
    services.schedules_fire(fires=fires)
    return list(Job.objects.filter(fire_at__in=[at for _, at in fires]).order_by("id"))


def during(call):
    """``(result, before, after)``: ``call()`` bracketed by the ms instants read around it."""
    before = now_ms()
    result = call()
    return result, before, now_ms()


def test_repeated_upsert_keeps_the_pending_fire_and_the_counters(api):
    """Issue 19's first finding. BullMQ: "when 2 jobs with the same options are added / creates only one
    job"; "when job schedulers are upserted in quick succession / should create only one job scheduler
    and one delayed job"."""
    first, before, after = during(lambda: put(api, "boot", {"repeat": {"every": 5000}}))
    assert first.status_code == 201, first.json()
    due = Z(first.json()["nextRunAt"])
    assert before <= due <= after  # fire 0 of an interval is at once
    for _ in range(3):  # deploy scripts and replicas upsert on every boot
        again = put(api, "boot", {"repeat": {"every": 5000}})
        assert again.status_code == 200
        body = again.json()
        assert (body["nextRunAt"], body["runCount"], body["iterationCount"]) == (
            first.json()["nextRunAt"],
            0,
            1,
        )
    [job] = fire(due)
    assert job.fire_at == due and job.public_id == f"repeat:boot:{epoch_ms(due)}"
    body = put(api, "boot", {"repeat": {"every": 5000}}).json()
    assert (body["runCount"], body["iterationCount"]) == (1, 2)
    assert Z(body["nextRunAt"]) == due + timedelta(seconds=5)
    assert Schedule.objects.filter(scheduler_id="boot").count() == 1


def test_new_name_data_and_options_apply_to_the_pending_fire_without_moving_it(api):
    """BullMQ: "when pattern option is provided / should keep only one delayed job if adding a new
    repeatable job with the same id" (the pending job takes the new name, data and priority)."""
    first = put(api, "mykey", {"pattern": "0 * 1 * *"}, data={"foo": "bar"}, options={"priority": 1})
    assert first.status_code == 201
    second = put(
        api,
        "mykey",
        {"pattern": "0 * 1 * *"},
        name="demo.progress",
        data={"steps": 1, "delayMs": 0},
        options={"priority": 2},
    )
    assert second.status_code == 200
    assert second.json()["nextRunAt"] == first.json()["nextRunAt"]
    assert second.json()["template"] == {"data": {"steps": 1, "delayMs": 0}, "opts": {"priority": 2}}
    [job] = fire(Z(first.json()["nextRunAt"]))
    assert (job.name, job.data, job.options["priority"]) == ("demo.progress", {"steps": 1, "delayMs": 0}, 2)


@pytest.mark.parametrize("method", ["put", "patch"])
def test_changing_every_runs_once_at_once_and_counts_the_new_grid_from_it(api, method):
    """Issue 19's second finding. BullMQ: "should reschedule immediately when changing every interval";
    "when every option is provided / should keep only one waiting job if adding a new repeatable job
    with the same id"."""
    created = put(api, "tick", {"repeat": {"every": 10_000}}).json()
    fire(Z(created["nextRunAt"]))
    if method == "put":
        res, before, after = during(lambda: put(api, "tick", {"repeat": {"every": 3000}}))
    else:
        res, before, after = during(
            lambda: api.patch("/jobs/schedule/tick", {"schedule": {"repeat": {"every": 3000}}}, format="json")
        )
    assert res.status_code == 200, res.json()
    body = res.json()
    at_once = Z(body["nextRunAt"])
    assert before <= at_once <= after
    assert (body["every"], body["runCount"], body["iterationCount"]) == (3000, 1, 2)
    assert Schedule.objects.get(scheduler_id="tick").anchor_at == at_once
    [job] = fire(at_once)
    assert job.fire_at == at_once
    row = Schedule.objects.get(scheduler_id="tick")
    assert row.next_fire_at == at_once + timedelta(seconds=3)  # the new grid counts from the run at once
    assert fire(at_once + timedelta(seconds=3))[0].fire_at == at_once + timedelta(seconds=3)


def test_changing_every_back_and_forth_keeps_one_pending_fire(api):
    """BullMQ: "should keep one delayed job if updating a repeatable job's every option" and "when job
    schedulers have same id and different every pattern / should create only one job scheduler"."""
    for every in (5000, 4000, 5000):
        assert put(api, "myTestScheduler", {"every": every}).status_code in (200, 201)
    row = Schedule.objects.get(scheduler_id="myTestScheduler")
    assert (row.every_ms, row.run_count, row.state) == (5000, 0, "active")
    assert len(fire(row.next_fire_at)) == 1
    assert Job.objects.count() == 1


def test_changing_the_cron_expression_fires_at_its_next_match_after_now(api):
    """BullMQ: "should update delayed job timestamp when upserting with different pattern" and "when
    generated job is in waiting state / should upsert scheduler by removing waiting job"."""
    first = put(api, "mykey", {"pattern": "0 0 1 1 *"}, data={"foo": "bar"})
    assert Z(first.json()["nextRunAt"]).strftime("%m-%d %H:%M") == "01-01 00:00"
    res, before, after = during(lambda: put(api, "mykey", {"pattern": "0 12 * * *"}, data={"foo": "baz"}))
    body = res.json()
    assert body["pattern"] == "0 12 * * *" and body["data"] == {"foo": "baz"}
    expected = {cron.next_cron_fire("0 12 * * *", "UTC", t) for t in (before, after)}
    assert Z(body["nextRunAt"]) in expected


def test_changing_the_time_zone_moves_a_cron_to_its_next_match_in_that_zone(api):
    """Issue 19 Deliver 2 (tz is part of the cadence); BullMQ keys ``tz`` with the pattern."""
    put(api, "noon", {"cron": "0 12 * * *", "tz": "UTC"})
    res, before, after = during(
        lambda: api.patch("/jobs/schedule/noon", {"schedule": {"tz": "Asia/Tokyo"}}, format="json")
    )
    expected = {cron.next_cron_fire("0 12 * * *", "Asia/Tokyo", t) for t in (before, after)}
    assert Z(res.json()["nextRunAt"]) in expected and res.json()["tz"] == "Asia/Tokyo"


def test_a_time_zone_on_an_interval_is_not_a_cadence_change(api):
    """``tz`` does not move an interval's fires (BullMQ ignores it with ``every``): the pending fire stays."""
    first = put(api, "iv", {"repeat": {"every": 60_000}}).json()
    res = put(api, "iv", {"repeat": {"every": 60_000}, "tz": "Europe/Berlin"})
    assert res.json()["nextRunAt"] == first["nextRunAt"]


def test_paused_schedule_stays_paused_when_its_cadence_changes(api):
    put(api, "p", {"repeat": {"every": 10_000}})
    assert api.post("/jobs/schedule/p/pause").json()["state"] == "paused"
    res, before, after = during(lambda: put(api, "p", {"repeat": {"every": 3000}}))
    body = res.json()
    assert (body["state"], body["nextRunAt"], body["iterationCount"]) == ("paused", None, 0)
    anchor = Schedule.objects.get(scheduler_id="p").anchor_at
    assert before <= anchor <= after  # the new grid counts from the change
    assert fire(after + timedelta(days=1)) == []
    resumed, before, _ = during(lambda: api.post("/jobs/schedule/p/resume").json())
    nxt = Z(resumed["nextRunAt"])
    # resumed: on that grid, from now on (nothing made up for the time it was paused)
    assert before <= nxt < before + timedelta(seconds=3) and (nxt - anchor) % timedelta(
        seconds=3
    ) == timedelta(0)


def test_ended_schedule_stays_ended_when_its_cadence_changes_until_its_limit_allows_more(api):
    created = put(api, "once", {"repeat": {"every": 10_000, "limit": 1}}).json()
    fire(Z(created["nextRunAt"]))
    body = put(api, "once", {"repeat": {"every": 3000, "limit": 1}}).json()
    assert (body["state"], body["nextRunAt"], body["runCount"], body["iterationCount"]) == (
        "ended",
        None,
        1,
        1,
    )
    res, before, after = during(lambda: put(api, "once", {"repeat": {"every": 3000, "limit": 2}}))
    body = res.json()
    assert body["state"] == "active" and before <= Z(body["nextRunAt"]) <= after + timedelta(seconds=3)


def test_a_tighter_limit_or_end_date_ends_the_schedule_instead_of_moving_its_fire(api):
    created = put(api, "lim", {"repeat": {"every": 3_600_000, "limit": 5}}).json()
    fire(Z(created["nextRunAt"]))
    body = api.patch("/jobs/schedule/lim", {"schedule": {"limit": 1}}, format="json").json()
    assert (body["state"], body["runCount"], body["nextRunAt"]) == ("ended", 1, None)
    created = put(api, "end", {"repeat": {"every": 3_600_000}}).json()
    fire(Z(created["nextRunAt"]))
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    body = api.patch("/jobs/schedule/end", {"schedule": {"endDate": soon}}, format="json").json()
    assert (body["state"], body["nextRunAt"]) == ("ended", None)


def test_immediately_runs_a_cron_once_at_once_then_on_its_cadence(api):
    """BullMQ: "should repeat once a day for 5 days and start immediately", "... start immediately using
    endDate" and "should schedule next 'pattern' repeatable job after promote with immediately"."""
    end = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    spec = {"pattern": "0 1 * * *", "immediately": True, "endDate": end}
    res, before, after = during(lambda: put(api, "daily", spec))
    body = res.json()
    at_once = Z(body["nextRunAt"])
    assert res.status_code == 201 and before <= at_once <= after
    assert "immediately" not in body["schedule"]  # an instruction to this write, not part of the schedule
    [job] = fire(at_once)
    assert job.fire_at == at_once
    row = Schedule.objects.get(scheduler_id="daily")
    assert row.next_fire_at == cron.next_cron_fire("0 1 * * *", "UTC", at_once)
    # each write that carries it asks for one more run at once, as each BullMQ upsert with it does
    res, before, after = during(lambda: put(api, "daily", spec))
    assert before <= Z(res.json()["nextRunAt"]) <= after and res.json()["runCount"] == 1


def test_immediately_does_not_change_an_interval_which_runs_at_once_anyway(api):
    """BullMQ warns that ``immediately`` with ``every`` "does not affect the job's schedule"."""
    first = put(api, "iv", {"repeat": {"every": 60_000}, "immediately": True}).json()
    again = put(api, "iv", {"repeat": {"every": 60_000}, "immediately": True}).json()
    assert again["nextRunAt"] == first["nextRunAt"]


@pytest.mark.parametrize(
    "schedule, message",
    [
        (
            {"every": 5000, "immediately": True, "startDate": "2030-01-01T00:00:00Z"},
            "schedule.immediately: cannot be combined with startDate",
        ),
        (
            {"at": "2030-01-01T00:00:00Z", "immediately": True},
            "schedule.immediately: applies to cron and repeat, not to at",
        ),
        ({"cron": "0 1 * * *", "immediately": "yes"}, "schedule.immediately: must be true or false"),
    ],
)
def test_immediately_refusals(api, schedule, message):
    """BullMQ: "should throw an error when using .immediately and .startDate simultaneously"."""
    res = api.post("/jobs/schedule", {"name": "echo", "data": {}, "schedule": schedule}, format="json")
    assert res.status_code == 400 and res.json()["errors"] == {"schedule.immediately": [message]}


@pytest.mark.parametrize(
    "spec, after, expected",
    [
        pytest.param(
            {"every": 900_000, "offset": 180_000},
            "2028-02-07T09:24:00Z",
            ["2028-02-07T09:33:00Z", "2028-02-07T09:48:00Z", "2028-02-07T10:03:00Z"],
            id="should respect offset when upserting a job scheduler with every",
        ),
        pytest.param(
            {"repeat": {"every": 900_000, "offset": 180_000}},
            "2028-02-07T09:16:00Z",
            ["2028-02-07T09:18:00Z", "2028-02-07T09:33:00Z", "2028-02-07T09:48:00Z"],
            id="should respect offset on first upsert when offset slot is in the future",
        ),
        pytest.param(
            {"repeat": {"every": 900_000}, "offset": 180_000},
            "2028-02-07T09:10:00Z",
            ["2028-02-07T09:18:00Z", "2028-02-07T09:33:00Z", "2028-02-07T09:48:00Z"],
            id="aligns the first job to the next offset slot after now",
        ),
    ],
)
def test_offset_puts_interval_fires_on_epoch_plus_offset_plus_k_every(api, spec, after, expected):
    """BullMQ's three offset scenarios (their ids), through the preview: the same code as a save."""
    res = api.post("/jobs/schedule/preview", {"schedule": spec, "count": 3, "from": after}, format="json")
    assert res.status_code == 200, res.json()
    assert res.json()["next"] == expected


def test_offset_is_stored_kept_on_upsert_and_moved_when_it_changes(api):
    res, before, _ = during(lambda: put(api, "off", {"every": 900_000, "offset": 180_000}))
    body = res.json()
    slot = (epoch_ms(before) // 900_000) * 900_000 + 180_000
    slot = slot if slot > epoch_ms(before) else slot + 900_000
    assert epoch_ms(Z(body["nextRunAt"])) == slot
    assert body["offset"] == 180_000 and body["schedule"] == {"repeat": {"every": 900_000, "offset": 180_000}}
    assert (
        put(api, "off", {"repeat": {"every": 900_000, "offset": 180_000}}).json()["nextRunAt"]
        == (body["nextRunAt"])
    )
    moved = put(api, "off", {"every": 900_000, "offset": 420_000}).json()
    assert epoch_ms(Z(moved["nextRunAt"])) % 900_000 == 420_000 and moved["offset"] == 420_000
    # a PATCH of the data alone keeps the offset and the pending fire
    patched = api.patch("/jobs/schedule/off", {"data": {"x": 1}}, format="json").json()
    assert (patched["nextRunAt"], patched["offset"]) == (moved["nextRunAt"], 420_000)


def test_offset_without_one_is_the_phase_of_the_grid_as_bullmq_reports_it(api):
    """BullMQ: "should create only one job scheduler and one delayed job with different settings"
    (a scheduler created 1 s past the minute reports offset 1000)."""
    body = put(api, "phase", {"every": 60_000}).json()
    assert body["offset"] == epoch_ms(Z(body["nextRunAt"])) % 60_000
    assert put(api, "cr", {"pattern": "*/2 * * * * *"}).json()["offset"] == 0  # as BullMQ for patterns
    assert put(api, "zero", {"every": 60_000, "offset": 0}).json()["schedule"] == {
        "repeat": {"every": 60_000}
    }


@pytest.mark.parametrize(
    "schedule, message",
    [
        (
            {"every": 5000, "offset": 5000},
            "schedule.offset: must be an integer number of milliseconds from 0 to every - 1 (4999)",
        ),
        (
            {"every": 5000, "offset": -1},
            "schedule.offset: must be an integer number of milliseconds from 0 to every - 1 (4999)",
        ),
        ({"cron": "0 1 * * *", "offset": 100}, "schedule.offset: applies to an interval (repeat.every) only"),
        (
            {"every": 5000, "offset": 100, "startDate": "2030-01-01T00:00:00Z"},
            "schedule.offset: cannot be combined with startDate, which anchors the interval's fire times",
        ),
        (
            {"repeat": {"every": 5000, "offset": 1}, "offset": 2},
            "schedule.offset: give offset either at the top or in repeat, not both",
        ),
    ],
)
def test_offset_refusals(api, schedule, message):
    res = api.post("/jobs/schedule", {"name": "echo", "data": {}, "schedule": schedule}, format="json")
    assert res.status_code == 400 and res.json()["errors"] == {"schedule.offset": [message]}


def test_pattern_is_bullmqs_name_for_cron(api):
    """BullMQ: "should create job schedulers with different cron patterns" (``pattern`` with ``tz``)."""
    body = put(api, "third", {"pattern": "1 * * 5 * *", "tz": "Africa/Abidjan"}).json()
    assert body["schedule"] == {"cron": "1 * * 5 * *", "tz": "Africa/Abidjan"}
    assert (body["pattern"], body["tz"], body["every"]) == ("1 * * 5 * *", "Africa/Abidjan", None)
    res = api.post(
        "/jobs/schedule",
        {"name": "echo", "data": {}, "schedule": {"pattern": "* * * * *", "cron": "* * * * *"}},
        format="json",
    )
    assert res.json()["errors"] == {
        "schedule": ["schedule: give cron or pattern (BullMQ's name for it), not both"]
    }
    res = api.post(
        "/jobs/schedule",
        {"name": "echo", "data": {}, "schedule": {"pattern": "* * * * *", "every": 5000}},
        format="json",
    )
    # BullMQ: "should throw an error when using .pattern and .every simultaneously"
    assert list(res.json()["errors"]) == ["schedule"] and "exactly one of" in res.json()["message"]


def test_key_id_and_iteration_count_are_bullmqs(api):
    """BullMQ's ``JobSchedulerJson``: ``key`` (and ``id``) is the scheduler id; ``iterationCount`` counts
    the iterations made, the pending one included. BullMQ: "should not repeat more than 5 times"
    (``iterationCount: 1`` right after the upsert) and "when repeatable job fails / should continue
    repeating" (``iterationCount: 2`` once the first job ran)."""
    body = put(api, "repeat", {"pattern": "*/1 * * * * *", "limit": 2}).json()
    assert (body["key"], body["id"], body["schedulerId"], body["name"]) == (
        "repeat",
        "repeat",
        "repeat",
        "echo",
    )
    assert (body["iterationCount"], body["runCount"], body["limit"]) == (1, 0, 2)
    first = Z(body["nextRunAt"])
    fire(first)
    body = api.get("/jobs/schedule/repeat").json()
    assert (body["iterationCount"], body["runCount"]) == (2, 1)
    fire(first + timedelta(seconds=1))
    body = api.get("/jobs/schedule/repeat").json()
    assert (body["iterationCount"], body["runCount"], body["state"]) == (2, 2, "ended")
    listed = api.get("/jobs/schedule").json()["scheduledJobs"][0]
    assert (listed["key"], listed["id"], listed["iterationCount"]) == ("repeat", "repeat", 2)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_upserts_of_a_new_id_make_one_schedule(owner):
    """BullMQ: "when 2 jobs with the same options are added / creates only one job", with the two
    upserts racing in two threads (two database connections)."""
    barrier = threading.Barrier(2)
    outcomes: list = []

    def upsert() -> None:
        try:
            barrier.wait(5)
            row, created = services.schedule_replace(
                owner=owner, scheduler_id="race", name="echo", data={}, schedule={"cron": "0 1 * * *"}
            )
            outcomes.append(created)
        except Exception as exc:  # recorded and asserted below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes, key=str) == [False, True], outcomes
    assert Schedule.objects.filter(scheduler_id="race").count() == 1


def test_a_cron_with_a_past_start_date_fires_at_its_next_match_after_now(api):
    """BullMQ: "should repeat every 2 seconds with startDate in past"."""
    res, before, after = during(
        lambda: put(api, "past", {"pattern": "*/2 * * * * *", "startDate": "2020-01-01T00:00:00Z"})
    )
    expected = {cron.next_cron_fire("*/2 * * * * *", "UTC", t) for t in (before, after)}
    assert Z(res.json()["nextRunAt"]) in expected


def test_a_removed_schedule_upserted_again_starts_afresh_at_once(api):
    """BullMQ: "should start immediately even after removing the job scheduler and adding it again" and
    "should allow adding a repeatable job after removing it"."""
    first = put(api, "repeat", {"every": 2000}).json()
    fire(Z(first["nextRunAt"]))
    assert api.delete("/jobs/schedule/repeat").status_code == 200
    assert api.delete("/jobs/schedule/repeat").status_code == 404  # BullMQ: "returns false"
    res, before, after = during(lambda: put(api, "repeat", {"every": 2000}))
    body = res.json()
    assert res.status_code == 201 and before <= Z(body["nextRunAt"]) <= after
    assert (body["runCount"], body["iterationCount"]) == (0, 1)


def test_retrying_a_fires_failed_job_makes_no_new_fire(api):
    """BullMQ: "when repeatable job fails / should not create a new delayed job if the failed job is
    retried with Job.retry()" (and "... with retryJobs"): the retry re-runs that fire's job."""
    created = put(api, "flaky", {"every": 60_000}).json()
    [job] = fire(Z(created["nextRunAt"]))
    Job.objects.filter(pk=job.pk).update(state="failed", failed_reason="boom")
    pending = Schedule.objects.get(scheduler_id="flaky").next_fire_at
    assert api.post(f"/jobs/{job.public_id}/retry").json()["state"] == "waiting"
    row = Schedule.objects.get(scheduler_id="flaky")
    assert (row.next_fire_at, row.run_count, Job.objects.count()) == (pending, 1, 1)


def test_a_new_every_never_fires_at_or_before_a_fire_already_made(api):
    """BullMQ: "when next delayed job already exists and it is not in waiting or delayed states /
    updates the scheduler with the new settings": when the run at once would fall on a fire already
    made (there, the same millisecond), the first point of the new grid after it is used."""
    created = put(api, "busy", {"every": 60_000}).json()
    fire(Z(created["nextRunAt"]))
    made = now_ms() + timedelta(seconds=30)  # as if a fire were recorded at or after the change
    Schedule.objects.filter(scheduler_id="busy").update(last_run_at=made)
    res, before, after = during(lambda: put(api, "busy", {"every": 120_000}))
    anchor = Schedule.objects.get(scheduler_id="busy").anchor_at
    assert before <= anchor <= after
    assert Z(res.json()["nextRunAt"]) == anchor + timedelta(minutes=2)


@pytest.mark.parametrize(
    "schedule, options, field",
    [
        pytest.param(
            {"pattern": "RRULE:FREQ=SECONDLY;INTERVAL=2;WKST=MO"},
            None,
            "schedule.cron",
            id="custom repeat strategies are not supported",
        ),
        pytest.param({"every": 5000, "tz": "Europa/Copenhaguen"}, None, "schedule.tz", id="bad tz on every"),
        pytest.param({"every": 100}, None, "schedule.repeat.every", id="every below the minimum"),
        pytest.param(
            {"every": 5000}, {"debounce": {"id": "legacy"}}, "options", id="removed debounce option"
        ),
        pytest.param({"every": 5000}, {"prevMillis": 1}, "options", id="BullMQ-internal prevMillis"),
    ],
)
def test_what_bullmq_ignores_we_refuse_naming_the_field(api, schedule, options, field):
    """Deliberate differences (docs/scheduling.md): a field that would be ignored is a named 400."""
    body = {"name": "echo", "data": {}, "schedule": schedule}
    if options is not None:
        body["options"] = options
    res = api.post("/jobs/schedule", body, format="json")
    assert res.status_code == 400 and list(res.json()["errors"]) == [field], res.json()
    assert Schedule.objects.count() == 0
