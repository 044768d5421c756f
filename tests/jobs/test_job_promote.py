"""Promote (BullMQ's ``job.promote()``): a delayed job runs now; any other state is a 409; outsiders 404."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from config.metrics import queue_depths
from jobs import actions, runtime, submission
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def test_promote_a_delayed_job_makes_it_waiting_and_publishes_it(api, owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"delay": 3_600_000})
    assert job.state == "delayed" and queue_depths(redis.Redis.from_url(settings.REDIS_URL))["jobs"] == 0
    res = api.post(f"/jobs/{job.pk}/promote")
    assert res.status_code == 200
    assert (res.json()["state"], res.json()["runAt"]) == ("waiting", None)
    job.refresh_from_db()
    assert (job.state, job.run_at) == ("waiting", None)
    assert queue_depths(redis.Redis.from_url(settings.REDIS_URL))["jobs"] == 1  # its run_job message
    assert runtime.job_execute(job_id=job.pk).state == "completed"


def test_promote_a_retry_waiting_out_its_backoff(owner):
    job, _ = submission.job_submit(
        owner=owner, name="test.flaky", data={"succeedOn": 2}, options={"attempts": 2, "backoff": 60_000}
    )
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "delayed" and job.run_at > timezone.now() + timedelta(seconds=50)
    actions.job_promote(job=job)
    assert runtime.job_execute(job_id=job.pk).result == {"attempt": 2}


@pytest.mark.parametrize("state", ["waiting", "active", "completed", "failed", "cancelled"])
def test_promote_in_any_other_state_is_409(api, owner, state):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1)
    Job.objects.filter(pk=job.pk).update(state=state)
    res = api.post(f"/jobs/{job.pk}/promote")
    assert res.status_code == 409
    assert res.json() == {
        "message": f"job {job.pk} is {state}; only delayed jobs can be promoted",
        "errors": {},
    }


def test_outsider_gets_404_and_the_job_stays_delayed(other_api, owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"delay": 60_000})
    assert other_api.post(f"/jobs/{job.pk}/promote").status_code == 404
    job.refresh_from_db()
    assert job.state == "delayed"
