"""Scheduling end to end: real `celery beat` processes (our scheduler) and a real worker.

Cadences are seconds, not minutes, so the suite stays short: the issue's "two beats for 3 minutes
on an every-minute schedule" is run as two beats on a 6-field every-second cron bounded to exactly
10 fire times; the restart and catch-up cases use every-2-s / every-5-s intervals.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import Job
from scheduling.models import Schedule
from tests.conftest import beat_and_worker_caught_up, start_beat, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fire_times(row) -> list[datetime]:
    return list(
        Job.objects.filter(schedule=row, fire_at__isnull=False)
        .order_by("fire_at")
        .values_list("fire_at", flat=True)
    )


def create(api, spec: dict, name: str = "echo") -> Schedule:
    res = api.post("/jobs/schedule", {"name": name, "data": {"n": 1}, "schedule": spec}, format="json")
    assert res.status_code == 201, res.json()
    return Schedule.objects.get(scheduler_id=res.json()["schedulerId"])


def leader_of(*beats):
    found = wait_until(lambda: [b for b in beats if "is now the leader" in b.output()], 15)
    assert found and len(found) == 1, [b.output()[-1500:] for b in beats]
    return found[0]


def test_two_beats_fire_exactly_once_and_a_standby_takes_over(api, worker):
    beats = [start_beat("beat-a"), start_beat("beat-b")]
    try:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        row = create(
            api,
            {"cron": "* * * * * *", "startDate": iso(start), "endDate": iso(start + timedelta(seconds=9))},
        )
        ended = wait_until(lambda: Schedule.objects.get(pk=row.pk).state == "ended", 40, 0.3)
        assert ended, [b.output()[-1500:] for b in beats]
        assert wait_until(lambda: Job.objects.filter(schedule=row, state="completed").count() == 10, 20)
        assert fire_times(row) == [start + timedelta(seconds=k) for k in range(10)]

        leader = leader_of(*beats)
        standby = beats[1 - beats.index(leader)]
        leader.kill()  # SIGKILL: the lock is not released, it has to expire
        # The standby takes the lock once it expires (TTL 5 s + its 1 s poll; how long is for the bench).
        assert wait_until(lambda: "is now the leader" in standby.output(), 60), standby.output()[-2000:]
        row2 = create(api, {"repeat": {"every": 1000, "limit": 3}})
        assert wait_until(lambda: Job.objects.filter(schedule=row2, state="completed").count() == 3, 60), (
            standby.output()[-2000:]
        )
        # Ended is the event after which no fire can follow (the third fire ends it in the same commit).
        assert wait_until(lambda: Schedule.objects.get(pk=row2.pk).state == "ended", 60)
        assert len(fire_times(row2)) == 3 and len(fire_times(row)) == 10
    finally:
        for b in beats:
            b.stop()


def test_beat_killed_and_down_for_five_fires_catches_up_once_on_the_anchor_grid(api, worker):
    beat = start_beat("beat-restart")
    try:
        row = create(api, {"repeat": {"every": 2000}})
        anchor = row.anchor_at
        assert wait_until(lambda: len(fire_times(row)) >= 2, 20), beat.output()[-2000:]
        beat.kill()
        down_from = Schedule.objects.get(pk=row.pk).next_fire_at  # first fire nobody dispatches
        time.sleep(11)  # 5 fires of the every-2-s schedule are missed; the restart lands mid-interval
        beat = start_beat("beat-restart")
        assert wait_until(lambda: len([f for f in fire_times(row) if f > down_from]) >= 3, 30), beat.output()[
            -2000:
        ]
    finally:
        beat.stop()
    fires = fire_times(row)
    steps = [(f - anchor) / timedelta(milliseconds=2000) for f in fires]
    assert all(s == int(s) for s in steps), steps  # never reset: every fire is anchor + k * 2 s
    ks = [int(s) for s in steps]
    assert ks == sorted(set(ks)), ks  # no fire time twice
    first_missed = ks.index(int((down_from - anchor) / timedelta(milliseconds=2000)))
    # one catch-up run carries the first missed fire time, then the cadence resumes from now: a gap
    # of at least 4 skipped grid points, then consecutive fires again
    assert ks[first_missed + 1] - ks[first_missed] >= 5, ks
    assert ks[first_missed + 2] - ks[first_missed + 1] == 1, ks
    assert Job.objects.filter(schedule=row).count() == len(fires)


def test_patch_and_delete_apply_without_restarting_beat(api, worker, beat):
    row = create(api, {"repeat": {"every": 1000}})
    assert wait_until(lambda: len(fire_times(row)) >= 2, 20), beat.output()[-2000:]
    res = api.patch(
        f"/jobs/schedule/{row.scheduler_id}", {"schedule": {"repeat": {"every": 3000}}}, format="json"
    )
    assert res.status_code == 200
    # BullMQ: a new `every` runs once at once and counts the new grid from that run
    patched_at = datetime.fromisoformat(res.json()["nextRunAt"].replace("Z", "+00:00"))
    assert Schedule.objects.get(pk=row.pk).anchor_at == patched_at
    assert wait_until(lambda: len([f for f in fire_times(row) if f >= patched_at]) >= 2, 20), beat.output()[
        -2000:
    ]
    later = [f for f in fire_times(row) if f >= patched_at]
    assert later[:2] == [patched_at, patched_at + timedelta(seconds=3)]
    assert api.delete(f"/jobs/schedule/{row.scheduler_id}").status_code == 200
    count = Job.objects.filter(name="echo").count()
    assert beat_and_worker_caught_up(row.owner, fires=3), beat.output()[-2000:]
    assert Job.objects.filter(name="echo").count() == count
