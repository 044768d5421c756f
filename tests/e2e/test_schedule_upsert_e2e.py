"""Issue 19 through real ``celery beat`` and worker processes: the fire an upsert must not lose, the run at
once of an ``every`` change and of ``immediately``, and BullMQ's ``repeat:`` job ids in the job's JSON and
in the events its owner's socket receives."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.ids import epoch_ms
from jobs.models import Job
from tests.conftest import wait_until
from tests.live.conftest import LiveSocket, access_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def put(api, sid: str, schedule: dict):
    res = api.put(
        f"/jobs/schedule/{sid}", {"name": "echo", "data": {"sid": sid}, "schedule": schedule}, format="json"
    )
    assert res.status_code in (200, 201), res.json()
    return res


def completed_at(sid: str, fire_at: datetime) -> bool:
    return Job.objects.filter(schedule__scheduler_id=sid, fire_at=fire_at, state="completed").exists()


def test_upserts_keep_their_pending_fire_and_cadence_changes_run_at_once(api, owner, worker, beat):
    socket = LiveSocket(f"/ws/jobs/?token={access_token(owner)}")
    try:
        # deploy scripts upsert on every boot: the fire due at once must still happen, once
        first = put(api, "boot", {"repeat": {"every": 5000}})
        assert first.status_code == 201
        boot_fire = Z(first.json()["nextRunAt"])
        for _ in range(2):
            again = put(api, "boot", {"repeat": {"every": 5000}})
            assert again.status_code == 200 and Z(again.json()["nextRunAt"]) == boot_fire
        # a cron asked to run immediately, whose first match is months away
        daily = put(api, "daily", {"pattern": "0 0 1 1 *", "immediately": True}).json()
        daily_fire = Z(daily["nextRunAt"])
        # an interval whose `every` changes after its first run
        tick_first = Z(put(api, "tick", {"repeat": {"every": 10_000}}).json()["nextRunAt"])

        assert wait_until(
            lambda: (
                completed_at("boot", boot_fire)
                and completed_at("daily", daily_fire)
                and completed_at("tick", tick_first)
            ),
            30,
        ), beat.output()[-2000:]
        changed = put(api, "tick", {"repeat": {"every": 3000}}).json()
        tick_now = Z(changed["nextRunAt"])
        assert tick_now < tick_first + timedelta(seconds=10)  # not the old grid's next point
        assert wait_until(
            lambda: completed_at("tick", tick_now) and completed_at("tick", tick_now + timedelta(seconds=3)),
            30,
        ), beat.output()[-2000:]

        assert Job.objects.filter(schedule__scheduler_id="boot", fire_at=boot_fire).count() == 1
        assert list(Job.objects.filter(schedule__scheduler_id="daily").values_list("fire_at", flat=True)) == [
            daily_fire
        ]
        boot_id = f"repeat:boot:{epoch_ms(boot_fire)}"
        got = api.get(f"/jobs/{boot_id}").json()
        assert (got["id"], got["state"], got["data"]) == (boot_id, "completed", {"sid": "boot"})
        events = socket.receive_until(
            lambda m: m.get("event") == "completed" and m.get("jobId") == f"repeat:tick:{epoch_ms(tick_now)}",
            timeout=30,
        )
        completed = {m["jobId"] for m in events if m["event"] == "completed"}
        assert {
            boot_id,
            f"repeat:daily:{epoch_ms(daily_fire)}",
            f"repeat:tick:{epoch_ms(tick_first)}",
        } <= completed
        fired = [m for m in events if m["event"] == "fired" and m["scheduleId"] == "boot"]
        assert fired[0]["jobId"] == boot_id
    finally:
        socket.close()
