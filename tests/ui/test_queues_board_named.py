"""The named queues on the Queues board (issue 16): a staff member pauses, resumes and rate-limits a
queue in Chromium while a real worker runs; people who are not staff are refused."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from jobs import submission
from jobs.models import Job, JobQueue
from tests.conftest import wait_until

from .browser import signed_in_context
from .helpers import client_for


@pytest.mark.django_db(transaction=True)
def test_staff_pause_resume_and_limit_a_queue_on_the_board_in_chromium(stack, staff):
    base = stack["web"].base
    page = signed_in_context(stack["browser"], base, staff).new_page()
    page.goto(f"{base}/admin/queues/")
    control = page.locator('[data-control="schedQueue"]')
    expect(control).to_contain_text("Running")
    page.locator('[data-pause="schedQueue"]').click()
    expect(page.locator(".messagelist")).to_contain_text(re.compile(re.escape("schedQueue: paused"), re.I))
    expect(page.locator('[data-control="schedQueue"]')).to_contain_text("Paused")
    assert JobQueue.objects.get(name="schedQueue").paused is True

    job, _ = submission.job_submit(owner=staff, name="echo", data="held", queue="schedQueue")
    page.goto(f"{base}/admin/queues/")
    expect(page.locator('#queue-schedQueue td[data-state="paused"]')).to_have_text("1")
    assert Job.objects.get(pk=job.pk).state == "waiting"

    page.locator('[data-resume="schedQueue"]').click()
    expect(page.locator(".messagelist")).to_contain_text(re.compile(re.escape("schedQueue: resumed"), re.I))
    assert wait_until(lambda: Job.objects.get(pk=job.pk).state == "completed", 60, 0.2)

    page.locator('[data-limit-max="schedQueue"]').fill("5")
    page.locator('[data-limit-duration="schedQueue"]').fill("1000")
    page.locator('[data-set-limit="schedQueue"]').click()
    expect(page.locator(".messagelist")).to_contain_text(
        re.compile(re.escape("schedQueue: at most 5 jobs per 1000 ms."), re.I)
    )
    expect(page.locator('[data-control="schedQueue"] [data-limiter]')).to_have_text("5 jobs per 1000 ms")
    row = JobQueue.objects.get(name="schedQueue")
    assert (row.limit_max, row.limit_duration_ms, row.paused) == (5, 1000, False)

    page.locator('[data-limit-duration="schedQueue"]').fill("")
    page.locator('[data-set-limit="schedQueue"]').click()
    expect(page.locator(".messagelist")).to_contain_text(
        re.compile(re.escape("duration: required with the other"), re.I)
    )
    assert JobQueue.objects.get(name="schedQueue").limit_duration_ms == 1000
    page.context.close()


@pytest.mark.django_db
def test_people_who_are_not_staff_cannot_pause_a_queue(owner, staff):
    for client in (client_for(owner), Client()):
        assert client.get("/admin/queues/").status_code == 302  # to the admin's login
        res = client.post("/admin/queues/", {"queue": "jobQueue", "action": "pause"})
        assert res.status_code == 302 and "/admin/login/" in res["Location"]
    assert not JobQueue.objects.filter(paused=True).exists()
    assert (
        client_for(staff).post("/admin/queues/", {"queue": "jobQueue", "action": "pause"}).status_code == 302
    )
    assert JobQueue.objects.get(name="jobQueue").paused is True


@pytest.mark.django_db
def test_the_board_lists_every_named_queue_with_its_pause_state_and_limit(admin_user, owner):
    from jobs import queue_control

    queue_control.queue_pause(name="flowQueue")
    queue_control.queue_set_limit(name="schedQueue", limit_max=10, duration_ms=1000)
    Job.objects.create(owner=owner, name="echo", queue="flowQueue", state="waiting")
    Job.objects.create(owner=owner, name="echo", queue="schedQueue", state="waiting")
    res = client_for(admin_user).get("/admin/queues/")
    rows = {r["name"]: r for r in res.context["rows"]}
    assert list(rows) == ["jobs", "schedules", "webhooks", "jobQueue", "schedQueue", "flowQueue"]
    assert (rows["flowQueue"]["paused"], dict(rows["flowQueue"]["counts"])["paused"]) == (True, 1)
    assert dict(rows["flowQueue"]["counts"])["waiting"] == 0
    assert (rows["schedQueue"]["limiter"], dict(rows["schedQueue"]["counts"])["waiting"]) == (
        {"max": 10, "duration": 1000},
        1,
    )
    listed = client_for(admin_user).get("/admin/queues/flowQueue/?state=paused").context["page"]
    assert [j.queue for j in listed] == ["flowQueue"]


@pytest.mark.django_db
def test_staff_pause_and_limit_a_queue_in_the_django_admin_through_the_same_rules(staff):
    client = client_for(staff)
    form = {"name": "schedQueue", "paused": "on", "limit_max": "10", "limit_duration_ms": "1000"}
    res = client.post("/admin/jobs/jobqueue/add/", form)
    assert res.status_code == 302, res.content.decode()[:2000]
    row = JobQueue.objects.get(name="schedQueue")
    assert (row.paused, row.limit_max, row.limit_duration_ms) == (True, 10, 1000)
    bad = client.post(f"/admin/jobs/jobqueue/{row.pk}/change/", {"limit_max": "10", "limit_duration_ms": ""})
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors == {
        "limit_duration_ms": ["duration: required with the other (set both, or neither)"]
    }
    assert JobQueue.objects.get(pk=row.pk).paused is True
    res = client.post(f"/admin/jobs/jobqueue/{row.pk}/change/", {"limit_max": "", "limit_duration_ms": ""})
    assert res.status_code == 302
    row.refresh_from_db()
    assert (row.paused, row.limit_max, row.limit_duration_ms) == (False, None, None)
    res = client.post("/admin/jobs/jobqueue/", {"action": "pause_queues", "_selected_action": [row.pk]})
    assert res.status_code == 302 and JobQueue.objects.get(pk=row.pk).paused is True


@pytest.mark.django_db
def test_a_queue_row_cannot_be_deleted_in_the_admin(admin_user):
    """A declared queue always has its state (pause, limit): the admin refuses to delete its row."""
    row = JobQueue.objects.create(name="schedQueue", paused=True)
    client = client_for(admin_user)
    assert client.post(f"/admin/jobs/jobqueue/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    actions = client.get("/admin/jobs/jobqueue/").context["action_form"].fields["action"].choices
    assert [name for name, _ in actions if name] == ["pause_queues", "resume_queues"]
    assert JobQueue.objects.filter(pk=row.pk, paused=True).exists()
