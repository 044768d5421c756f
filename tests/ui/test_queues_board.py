"""The Queues board (/admin/queues/): counts per queue and state, backlog, oldest waiting, throughput,
drill-down with job actions (bulk too), retry all failed / clean finished per queue and state, the
board's job page, and the scope rule (superusers all, other staff their own)."""

import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone

from jobs import runtime, submission, throughput
from jobs.models import Job, JobState
from scheduling import services
from webhooks.models import Delivery, Webhook

from .helpers import client_for

pytestmark = pytest.mark.django_db


def job(owner, state, **fields) -> Job:
    return Job.objects.create(owner=owner, name="echo", state=state, **fields)


def rows_of(res) -> dict:
    return {r["name"]: r for r in res.context["rows"]}


def test_board_counts_each_queue_by_state_with_backlog_and_oldest_waiting(admin_user, owner, other_user):
    schedule = services.schedule_create(owner=owner, name="echo", data=None, schedule={"cron": "0 9 * * *"})
    for state, who in ((JobState.FAILED, owner), (JobState.FAILED, other_user), (JobState.COMPLETED, owner)):
        job(who, state)
    job(owner, JobState.COMPLETED, schedule=schedule)
    waited_since = timezone.now() - timedelta(minutes=3)
    job(other_user, JobState.WAITING, enqueued_at=waited_since)
    job(owner, JobState.WAITING, enqueued_at=timezone.now())
    hook = Webhook.objects.create(owner=owner, url="https://example.com/h", event_type="all", secret="s")
    Delivery.objects.create(webhook=hook, event_id="e1", event_type="completed", payload={}, state="failed")
    redis.Redis.from_url(settings.REDIS_URL).rpush("webhooks", "m1", "m2")

    res = client_for(admin_user).get("/admin/queues/")
    assert res.status_code == 200
    rows = rows_of(res)
    assert list(rows) == ["jobs", "schedules", "webhooks", "jobQueue", "schedQueue", "flowQueue"]
    assert dict(rows["jobs"]["counts"]) == {
        "waiting": 2,
        "waiting-children": 0,
        "delayed": 0,
        "active": 0,
        "completed": 2,
        "failed": 2,
        "cancelled": 0,
    }
    assert dict(rows["schedules"]["counts"])["completed"] == 1 and rows["schedules"]["total"] == 1
    assert rows["schedules"]["schedules"] == {"active": 1}
    assert dict(rows["webhooks"]["counts"]) == {"pending": 0, "sending": 0, "succeeded": 0, "failed": 1}
    assert (rows["jobs"]["backlog"], rows["webhooks"]["backlog"]) == (0, 2)
    assert rows["jobs"]["oldest_waiting_at"] == waited_since
    html = res.content.decode()
    assert 'href="/admin/queues/jobs/?state=failed">2</a>' in html
    assert f'<td data-oldest><time datetime="{waited_since.isoformat().replace("+00:00", "Z")}"' in html
    assert '<a href="/admin/queues/">Queues</a> /' in client_for(admin_user).get("/admin/").content.decode()


def test_staff_who_are_not_superusers_see_only_their_own_jobs(staff, owner):
    job(owner, JobState.FAILED)
    job(staff, JobState.COMPLETED)
    throughput.record(owner_id=owner.pk, queues=["jobs"], outcome="failed")
    throughput.record(owner_id=staff.pk, queues=["jobs"], outcome="completed")
    rows = rows_of(client_for(staff).get("/admin/queues/"))
    assert dict(rows["jobs"]["counts"])["failed"] == 0 and dict(rows["jobs"]["counts"])["completed"] == 1
    series = rows["jobs"]["throughput"]
    assert (sum(series["completed"]), sum(series["failed"])) == (1, 0)
    listed = client_for(staff).get("/admin/queues/jobs/").context["page"]
    assert [j.owner_id for j in listed] == [staff.pk]


def test_throughput_counts_outcomes_per_minute_and_queue(admin_user, owner):
    schedule = services.schedule_create(owner=owner, name="echo", data=None, schedule={"cron": "0 9 * * *"})
    done, _ = submission.job_submit(owner=owner, name="echo", data=1)
    scheduled, _ = submission.job_submit(owner=owner, name="echo", data=2, schedule=schedule)
    failing, _ = submission.job_submit(owner=owner, name="http.request", data={"url": "ftp://x.test/"})
    for row in (done, scheduled, failing):
        runtime.job_execute(job_id=row.pk)
    rows = rows_of(client_for(admin_user).get("/admin/queues/"))
    jobs, scheduled_row = rows["jobs"]["throughput"], rows["schedules"]["throughput"]
    assert len(jobs["minutes"]) == 60 and jobs["minutes"][-1] == int(time.time() // 60) * 60
    assert (jobs["completed"][-1] + jobs["completed"][-2], jobs["failed"][-1] + jobs["failed"][-2]) == (2, 1)
    assert sum(scheduled_row["completed"]) == 1 and sum(scheduled_row["failed"]) == 0
    # Pruned jobs still count: the chart is not read from the job table.
    Job.objects.all().delete()
    assert sum(rows_of(client_for(admin_user).get("/admin/queues/"))["jobs"]["throughput"]["completed"]) == 2


def test_retry_all_failed_and_clean_finished_per_queue_and_state(admin_user, staff, owner):
    schedule = services.schedule_create(owner=owner, name="echo", data=None, schedule={"cron": "0 9 * * *"})
    job(owner, JobState.FAILED)
    from_schedule = job(owner, JobState.FAILED, schedule=schedule)
    job(staff, JobState.FAILED)
    staff_done = job(staff, JobState.COMPLETED)
    job(staff, JobState.CANCELLED)
    res = client_for(staff).post("/admin/queues/", {"action": "retry_failed", "queue": "jobs"})
    assert res.status_code == 302
    assert sorted(Job.objects.values_list("owner__username", "state")) == [
        ("owner", "failed"),
        ("owner", "failed"),
        ("staff", "cancelled"),
        ("staff", "completed"),
        ("staff", "waiting"),
    ]
    admin = client_for(admin_user)
    admin.post("/admin/queues/", {"action": "retry_failed", "queue": "schedules"})
    from_schedule.refresh_from_db()
    assert from_schedule.state == "waiting"
    assert Job.objects.filter(state="failed").count() == 1  # the unscheduled one stays failed
    admin.post("/admin/queues/", {"action": "clean_finished", "queue": "jobs", "state": "cancelled"})
    assert (
        not Job.objects.filter(state="cancelled").exists() and Job.objects.filter(pk=staff_done.pk).exists()
    )
    res = admin.post(
        "/admin/queues/", {"action": "clean_finished", "queue": "jobs", "state": "waiting"}, follow=True
    )
    last = [str(m) for m in res.context["messages"]][-1]
    assert last == "state: must be one of completed, failed, cancelled"
    assert Job.objects.filter(state="waiting").count() == 2
    admin.post("/admin/queues/", {"action": "clean_finished", "queue": "jobs"})
    assert sorted(Job.objects.values_list("state", flat=True)) == ["waiting", "waiting"]


def test_drill_down_lists_a_queues_jobs_by_state(admin_user, owner, other_user):
    failed = [job(owner, JobState.FAILED, failed_reason="boom"), job(other_user, JobState.FAILED)]
    job(owner, JobState.COMPLETED)
    res = client_for(admin_user).get("/admin/queues/jobs/?state=failed")
    assert res.status_code == 200
    assert [j.pk for j in res.context["page"]] == [failed[1].pk, failed[0].pk]
    html = res.content.decode()
    assert f'href="/admin/queues/jobs/{failed[0].pk}/"' in html and ">boom<" in html
    assert 'data-state-tab="failed"' in html and "failed 2</a>" in html
    assert client_for(admin_user).get("/admin/queues/nope/").status_code == 404
    assert client_for(admin_user).get("/admin/queues/webhooks/").status_code == 404


def test_bulk_actions_use_the_services_and_report_their_409s(admin_user, staff, owner):
    failed, done, theirs = (
        job(staff, JobState.FAILED),
        job(staff, JobState.COMPLETED),
        job(owner, JobState.FAILED),
    )
    client = client_for(staff)
    res = client.post(
        "/admin/queues/jobs/bulk/",
        {
            "action": "retry",
            "job": [failed.pk, done.pk, theirs.pk],
            "next": "/admin/queues/jobs/?state=failed",
        },
        follow=True,
    )
    assert res.redirect_chain[-1][0] == "/admin/queues/jobs/?state=failed"
    messages = [str(m) for m in res.context["messages"]]
    assert messages == [
        "1 job(s) put back to waiting.",
        f"1 job(s) left as they were: job {done.pk} is completed; "
        "only failed or cancelled jobs can be retried",
    ]
    assert [Job.objects.get(pk=j.pk).state for j in (failed, done, theirs)] == [
        "waiting",
        "completed",
        "failed",
    ]
    client_for(admin_user).post("/admin/queues/jobs/bulk/", {"action": "delete", "job": [done.pk, theirs.pk]})
    assert not Job.objects.filter(pk__in=[done.pk, theirs.pk]).exists()


def test_board_job_page_shows_any_job_to_a_superuser_and_only_their_own_to_staff(admin_user, staff, owner):
    theirs = job(
        owner,
        JobState.FAILED,
        failed_reason="RuntimeError: no",
        stacktrace="Traceback (most recent call last):\n  x",
    )
    res = client_for(admin_user).get(f"/admin/queues/jobs/{theirs.pk}/")
    html = res.content.decode()
    assert res.status_code == 200
    assert 'id="stacktrace">Traceback (most recent call last):\n  x</pre>' in html
    assert f'action="/admin/queues/jobs/{theirs.pk}/retry/"' in html
    assert client_for(staff).get(f"/admin/queues/jobs/{theirs.pk}/").status_code == 404
    assert client_for(staff).post(f"/admin/queues/jobs/{theirs.pk}/retry/").status_code == 404
    res = client_for(admin_user).post(f"/admin/queues/jobs/{theirs.pk}/retry/")
    assert res.status_code == 302 and res["Location"] == f"/admin/queues/jobs/{theirs.pk}/"
    theirs.refresh_from_db()
    assert theirs.state == "waiting"
    # deleting takes any job but an active one (BullMQ's rule, the API's DELETE /jobs/{jobId})
    res = client_for(admin_user).post(f"/admin/queues/jobs/{theirs.pk}/delete/", follow=True)
    assert [str(m) for m in res.context["messages"]] == [f"Job #{theirs.pk} deleted."]
    assert not Job.objects.filter(pk=theirs.pk).exists()


def test_workers_part_says_when_no_worker_answers(admin_user):
    res = client_for(admin_user).get("/admin/queues/workers/")
    assert res.status_code == 200 and 'id="no-workers"' in res.content.decode()


@pytest.mark.parametrize(
    "path", ["/admin/queues/", "/admin/queues/workers/", "/admin/queues/jobs/", "/admin/queues/jobs/1/"]
)
def test_board_is_staff_only(owner, path):
    res = client_for(owner).get(path)
    assert res.status_code == 302 and res["Location"].startswith("/admin/login/")
    assert Client().post("/admin/queues/", {"action": "clean_finished"}).status_code == 302


def test_counts_leave_the_job_path_and_reach_redis_within_a_second():
    from tests.conftest import wait_until

    client = redis.Redis.from_url(settings.REDIS_URL)
    minute = int(time.time() // 60)
    key = f"{throughput.PREFIX}jobs:completed:all:{minute}"
    throughput.record(owner_id=7, queues=["jobs"], outcome="completed", at_s=minute * 60 + 1)
    throughput.record(owner_id=7, queues=["jobs"], outcome="completed", at_s=minute * 60 + 2)
    assert client.get(key) is None  # only tallied in this process so far
    assert wait_until(lambda: client.get(key) == b"2", 5)  # the timer sent both in one INCRBY
    assert client.get(f"{throughput.PREFIX}jobs:completed:u7:{minute}") == b"2"
    assert 0 < client.ttl(key) <= throughput.KEEP_S
