"""PUT upsert, PATCH, pause/resume/trigger (409 rules), the schedule's jobs, and schedule events."""

import asyncio
import time
from datetime import UTC, datetime

import pytest
from channels.layers import get_channel_layer

from jobs.models import Job
from scheduling import services
from scheduling.models import Schedule

pytestmark = pytest.mark.django_db

CRON = {
    "name": "echo",
    "data": {"n": 1},
    "schedule": {"cron": "0 0 * * *", "startDate": "2030-01-01T00:00:00Z"},
}


def test_put_upserts_by_scheduler_id(api, other_api):
    res = api.put("/jobs/schedule/nightly", CRON, format="json")
    assert res.status_code == 201, res.json()
    assert res.json()["schedulerId"] == "nightly" and res.json()["nextRunAt"] == "2030-01-01T00:00:00Z"
    res = api.put(
        "/jobs/schedule/nightly/",
        {
            **CRON,
            "schedule": {"cron": "0 6 * * *", "tz": "Europe/Berlin", "startDate": "2030-01-01T00:00:00Z"},
        },
        format="json",
    )
    assert res.status_code == 200
    body = res.json()
    assert body["schedule"] == {
        "cron": "0 6 * * *",
        "tz": "Europe/Berlin",
        "startDate": "2030-01-01T00:00:00Z",
    }
    assert body["nextRunAt"] == "2030-01-01T05:00:00Z"
    assert Schedule.objects.filter(scheduler_id="nightly").count() == 1
    # ids are per owner: the other user's PUT creates their own schedule, it never touches ours
    assert other_api.put("/jobs/schedule/nightly", CRON, format="json").status_code == 201
    assert api.get("/jobs/schedule/nightly").json()["schedule"]["cron"] == "0 6 * * *"
    assert api.post("/jobs/schedule", {**CRON, "schedulerId": "nightly"}, format="json").status_code == 409
    assert (
        api.put("/jobs/schedule/nightly", {**CRON, "schedule": {"cron": "bad"}}, format="json").status_code
        == 400
    )


def test_patch_merges_over_the_stored_definition(api, other_api):
    sid = api.post(
        "/jobs/schedule",
        {
            "name": "echo",
            "data": {"a": 1},
            "schedule": {"repeat": {"every": 2000, "limit": 5}, "startDate": "2030-01-01T00:00:00Z"},
        },
        format="json",
    ).json()["schedulerId"]
    res = api.patch(f"/jobs/schedule/{sid}", {"schedule": {"repeat": {"every": 5000}}}, format="json")
    assert res.status_code == 200, res.json()
    body = res.json()
    assert body["schedule"] == {"repeat": {"every": 5000, "limit": 5}, "startDate": "2030-01-01T00:00:00Z"}
    assert body["upcoming"] == [
        "2030-01-01T00:00:00Z",
        "2030-01-01T00:00:05Z",
        "2030-01-01T00:00:10Z",
        "2030-01-01T00:00:15Z",
        "2030-01-01T00:00:20Z",
    ]
    res = api.patch(f"/jobs/schedule/{sid}", {"data": 0}, format="json")
    assert (
        res.status_code == 200
        and res.json()["data"] == 0
        and res.json()["schedule"]["repeat"]["every"] == 5000
    )
    res = api.patch(
        f"/jobs/schedule/{sid}", {"schedule": {"cron": "0 12 * * *", "tz": "Asia/Tokyo"}}, format="json"
    )
    assert res.json()["schedule"] == {
        "cron": "0 12 * * *",
        "tz": "Asia/Tokyo",
        "startDate": "2030-01-01T00:00:00Z",
        "limit": 5,
    }
    assert res.json()["nextRunAt"] == "2030-01-01T03:00:00Z"
    res = api.patch(f"/jobs/schedule/{sid}", {"schedule": {"limit": None}}, format="json")
    assert res.status_code == 200 and res.json()["limit"] is None
    res = api.patch(f"/jobs/schedule/{sid}", {"schedule": {"tz": "Nowhere/City"}}, format="json")
    assert res.status_code == 400 and list(res.json()["errors"]) == ["schedule.tz"]
    res = api.patch(f"/jobs/schedule/{sid}", {"colour": "red"}, format="json")
    assert res.status_code == 400
    assert other_api.patch(f"/jobs/schedule/{sid}", {"data": 1}, format="json").status_code == 404


def listen(owner):
    """A channel in the owner's group; returns a function draining the schedule events received.

    Registered as a listener first, as a socket does (the publisher leaves out groups nobody listens to).
    """
    from jobs.realtime import LISTENER_CACHE_S
    from jobs.realtime import listen as register_listener

    layer = get_channel_layer()
    channel = asyncio.run(layer.new_channel())
    register_listener(f"user.{owner.pk}", channel)
    asyncio.run(layer.group_add(f"user.{owner.pk}", channel))
    time.sleep(LISTENER_CACHE_S)  # publishers' cached answers from before the registration expire

    def drain():
        async def go():
            out = []
            while True:
                try:
                    msg = await asyncio.wait_for(layer.receive(channel), 0.5)
                except TimeoutError:
                    return out
                if msg["message"]["event"] in ("fired", "paused", "resumed", "ended"):
                    out.append(msg["message"])

        return asyncio.run(go())

    return drain


@pytest.mark.django_db(transaction=True)
def test_pause_resume_trigger_state_rules_and_events(api, owner):
    drain = listen(owner)
    sid = api.post(
        "/jobs/schedule",
        {
            "name": "echo",
            "data": {},
            "schedule": {"repeat": {"every": 1000, "limit": 1}, "startDate": "2030-01-01T00:00:00Z"},
        },
        format="json",
    ).json()["schedulerId"]
    res = api.post(f"/jobs/schedule/{sid}/pause")
    assert res.status_code == 200 and res.json()["state"] == "paused" and res.json()["nextRunAt"] is None
    assert res.json()["upcoming"] == [] and res.json()["next"] is None
    assert api.post(f"/jobs/schedule/{sid}/pause").status_code == 200  # idempotent
    res = api.post(f"/jobs/schedule/{sid}/trigger")
    assert res.status_code == 201 and res.json()["job"]["state"] == "waiting"
    assert res.json()["job"]["scheduleId"] == sid
    res = api.post(f"/jobs/schedule/{sid}/resume")
    assert res.status_code == 200 and res.json()["state"] == "active"
    assert res.json()["nextRunAt"] == "2030-01-01T00:00:00Z"
    assert res.json()["runCount"] == 0  # a manual trigger does not consume `limit`
    row = Schedule.objects.get(scheduler_id=sid)
    sent: list = []
    services.schedules_dispatch_due(now=datetime(2030, 1, 1, tzinfo=UTC), send=sent.extend)
    services.schedules_fire(fires=[(pk, datetime.fromisoformat(at)) for pk, at in sent])
    assert api.get(f"/jobs/schedule/{sid}").json()["state"] == "ended"
    for action in ("pause", "resume", "trigger"):
        res = api.post(f"/jobs/schedule/{sid}/{action}")
        assert res.status_code == 409, action
        assert res.json()["message"] == f"schedule has ended; it cannot be {action}d".replace(
            "triggerd", "triggered"
        )
    events = [(e["event"], e["scheduleId"], e["state"]) for e in drain()]
    assert events == [
        ("paused", sid, "paused"),
        ("fired", sid, "paused"),
        ("resumed", sid, "active"),
        ("fired", sid, "ended"),  # the fire's job is made with the dispatch (durable fires), then it ends
        ("ended", sid, "ended"),
    ]
    jobs = api.get(f"/jobs/schedule/{sid}/jobs").json()
    assert jobs["pagination"] == {"total": 2, "page": 1, "limit": 10, "pages": 1}
    triggered = Job.objects.get(schedule=row, fire_at__isnull=True)
    # a fire's job has BullMQ's id repeat:<schedulerId>:<fire time ms>; a manual run its numeric id
    assert [j["id"] for j in jobs["jobs"]] == [f"repeat:{sid}:1893456000000", str(triggered.pk)]


def test_schedule_jobs_are_scoped_and_kept_after_delete(api, other_api):
    sid = api.post("/jobs/schedule", CRON, format="json").json()["schedulerId"]
    job_id = api.post(f"/jobs/schedule/{sid}/trigger").json()["job"]["id"]
    assert other_api.get(f"/jobs/schedule/{sid}/jobs").status_code == 404
    assert other_api.post(f"/jobs/schedule/{sid}/trigger").status_code == 404
    assert api.delete(f"/jobs/schedule/{sid}").status_code == 200
    assert api.get(f"/jobs/{job_id}").status_code == 200
