"""A schedule made through the API fires in a real beat and its jobs run in a real worker."""


import pytest

from jobs.models import Job
from scheduling.models import Schedule
from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_every_second_limit_three_yields_exactly_three_completed_jobs(api, worker, beat):
    res = api.post("/jobs/schedule", {"name": "echo", "data": {"msg": "hi"},
                                      "schedule": {"repeat": {"every": 1000, "limit": 3}}}, format="json")
    assert res.status_code == 201
    row = Schedule.objects.get(scheduler_id=res.json()["schedulerId"])
    done = wait_until(lambda: Job.objects.filter(schedule=row, state="completed").count() == 3, 30)
    assert done, (worker.output()[-2000:], beat.output()[-2000:])
    # Ended is the event after which no fire can follow (the third fire ends it in the same commit).
    assert wait_until(lambda: Schedule.objects.get(pk=row.pk).state == "ended", 60)
    jobs = list(Job.objects.filter(schedule=row).order_by("fire_at"))
    assert len(jobs) == 3
    assert [j.result for j in jobs] == [{"msg": "hi"}] * 3
    gaps = [(b.fire_at - a.fire_at).total_seconds() for a, b in zip(jobs, jobs[1:], strict=False)]
    assert gaps == [1.0, 1.0]
    row.refresh_from_db()
    assert row.state == "ended" and row.run_count == 3 and row.next_fire_at is None
    detail = api.get(f"/jobs/{jobs[0].pk}").json()
    assert detail["state"] == "completed" and detail["scheduleId"] == row.scheduler_id
    assert detail["result"] == {"msg": "hi"}
