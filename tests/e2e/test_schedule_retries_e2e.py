"""`limit` counts runs, not attempts: limit 3 with `attempts: 2` and a failing handler → 3 jobs, 6 attempts.

Needs the jobs side's retry support (options.attempts/backoff), which issue 3 delivers.
"""


import pytest

import tests.e2e.schedule_handlers  # noqa: F401  (registers test.always_fails in this process)
from jobs.models import Job
from scheduling.models import Schedule
from tests.conftest import start_beat, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_limit_three_with_two_attempts_makes_three_runs_and_six_attempts(api):
    worker = start_worker(JOB_HANDLER_MODULES="tests.e2e.schedule_handlers")
    beat = start_beat()
    try:
        res = api.post(
            "/jobs/schedule",
            {
                "name": "test.always_fails",
                "data": {},
                "schedule": {"repeat": {"every": 2000, "limit": 3}},
                "options": {"attempts": 2, "backoff": 100},
            },
            format="json",
        )
        assert res.status_code == 201, res.json()
        row = Schedule.objects.get(scheduler_id=res.json()["schedulerId"])
        done = wait_until(lambda: Job.objects.filter(schedule=row, state="failed").count() == 3, 40)
        assert done, (worker.output()[-2000:], beat.output()[-2000:])
        # Ended is the event after which no fire can follow (the third fire ends it in the same commit).
        assert wait_until(lambda: Schedule.objects.get(pk=row.pk).state == "ended", 60)
        jobs = list(Job.objects.filter(schedule=row).order_by("fire_at"))
        assert [(j.state, j.attempts_made) for j in jobs] == [("failed", 2)] * 3
        row.refresh_from_db()
        assert (row.state, row.run_count) == ("ended", 3)
    finally:
        beat.stop()
        worker.stop()
