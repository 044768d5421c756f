"""Dashboard, jobs list, new-job form and profile pages (Django test client)."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Profile
from jobs.models import Job, JobState
from scheduling import services

from .helpers import client_for

pytestmark = pytest.mark.django_db


def test_dashboard_redirects_anonymous_to_login():
    res = Client().get("/")
    assert res.status_code == 302 and res["Location"] == "/login/?next=/"


def test_dashboard_counts_next_fires_and_failures(owner, other_user):
    for state, n in ((JobState.COMPLETED, 3), (JobState.FAILED, 2), (JobState.WAITING, 1)):
        for _ in range(n):
            Job.objects.create(
                owner=owner, name="echo", state=state, failed_reason="boom" if state == "failed" else ""
            )
    Job.objects.create(owner=other_user, name="echo", state=JobState.FAILED, failed_reason="not mine")
    row = services.schedule_create(owner=owner, name="echo", data=None, schedule={"cron": "0 9 * * *"})
    services.schedule_create(owner=other_user, name="echo", data=None, schedule={"cron": "0 8 * * *"})
    with CaptureQueriesContext(connection) as queries:
        res = client_for(owner).get("/")
    assert res.status_code == 200
    assert len([q for q in queries if "GROUP BY" in q["sql"] and "jobs_job" in q["sql"]]) == 1
    assert res.context["counts"] == [
        ("waiting", 1),
        ("waiting-children", 0),  # flows' parents (docs/flows.md)
        ("delayed", 0),
        ("active", 0),
        ("completed", 3),
        ("failed", 2),
        ("cancelled", 0),
    ]
    assert [s.pk for s in res.context["upcoming"]] == [row.pk]
    assert [j.owner_id for j in res.context["failures"]] == [owner.pk, owner.pk]
    assert "not mine" not in res.content.decode()


def test_jobs_list_filters_and_paginates_own_jobs(owner, other_user):
    for i in range(25):
        Job.objects.create(
            owner=owner,
            name="echo" if i % 2 else "demo.progress",
            state=JobState.COMPLETED if i < 20 else JobState.FAILED,
        )
    Job.objects.create(owner=other_user, name="echo", state=JobState.FAILED)
    client = client_for(owner)
    first = client.get("/app/jobs/")
    assert first.status_code == 200
    assert first.context["page"].paginator.count == 25 and len(first.context["page"]) == 20
    second = client.get("/app/jobs/?page=2")
    assert len(second.context["page"]) == 5
    failed = client.get("/app/jobs/?state=failed&name=echo")
    assert sorted(j.name + j.state for j in failed.context["page"]) == ["echofailed"] * 2
    assert all(j.owner_id == owner.pk for j in failed.context["page"])
    assert 'href="?state=failed&amp;name=echo&amp;page=' not in failed.content.decode()  # one page only
    bogus = client.get("/app/jobs/?state=nonsense&page=zzz")
    assert bogus.status_code == 200 and bogus.context["state"] == "" and bogus.context["page"].number == 1


def test_new_job_form_lists_handlers_with_descriptions(owner):
    res = client_for(owner).get("/app/jobs/new/")
    html = res.content.decode()
    assert res.status_code == 200
    assert '<option value="echo">echo — Returns its data unchanged.</option>' in html
    assert "Runs N steps, reporting progress" in html


def test_new_job_submits_through_service(owner):
    res = client_for(owner).post(
        "/app/jobs/new/", {"name": "echo", "data": '{"a": [1, 2]}', "options": '{"attempts": 2}'}
    )
    job = Job.objects.get(owner=owner)
    assert res.status_code == 302 and res["Location"] == f"/app/jobs/{job.pk}/"
    assert (job.name, job.data, job.options, job.state) == ("echo", {"a": [1, 2]}, {"attempts": 2}, "waiting")


@pytest.mark.parametrize(
    "body, field, message",
    [
        (
            {"name": "nope", "data": "{}"},
            "name",
            "name: no handler named 'nope'; known handlers: {known}",
        ),
        (
            {"name": "demo.progress", "data": '{"steps": 0}'},
            "data",
            "data.steps: 0 is less than the minimum of 1",
        ),
        (
            {"name": "echo", "data": "{}", "options": '{"colour": 1}'},
            "options",
            "options: unknown option(s) colour; allowed: attempts, backoff, delay, priority, jobId, timeout, "
            "removeOnComplete, removeOnFail",
        ),
    ],
)
def test_new_job_field_errors_are_the_apis_rules_in_the_forms_words(owner, api, body, field, message):
    import json

    from config.forms import form_words
    from jobs import handlers

    # Other test modules register extra handlers in this process; the message lists what is registered.
    message = message.replace("{known}", ", ".join(handlers.names()))
    api_body = {k: json.loads(v) if k != "name" else v for k, v in body.items()}
    assert api.post("/jobs/submit", api_body, format="json").json()["errors"] == {field: [message]}
    res = client_for(owner).post("/app/jobs/new/", body)
    assert res.status_code == 200
    # The same rule, without the API's field path (the form shows it under that field).
    shown = form_words(field, message)
    assert res.context["form"].errors == {field: [shown]}
    assert shown[0].isupper() and not shown.lower().startswith(field)
    assert not Job.objects.exists()


def test_profile_time_zone_is_used_for_times_with_utc_on_hover(owner):
    client = client_for(owner)
    client.cookies["tz"] = "Asia/Tokyo"
    job = Job.objects.create(owner=owner, name="echo", state=JobState.FAILED, failed_reason="x")
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2030, 7, 1, 12, 0, tzinfo=UTC))
    html = client.get("/app/jobs/").content.decode()
    stamp = '<time datetime="2030-07-01T12:00:00Z" title="2030-07-01 12:00:00 UTC">'
    assert stamp + "Mon 01 Jul 2030 21:00:00 JST</time>" in html
    res = client.post("/app/profile/", {"time_zone": "America/New_York"})
    assert res.status_code == 302 and Profile.objects.get(user=owner).time_zone == "America/New_York"
    html = client.get("/app/jobs/").content.decode()
    assert ">Mon 01 Jul 2030 08:00:00 EDT</time>" in html
    client.post("/app/profile/", {"time_zone": ""})
    assert ">Mon 01 Jul 2030 21:00:00 JST</time>" in client.get("/app/jobs/").content.decode()


def test_profile_refuses_unknown_zone(owner):
    res = client_for(owner).post("/app/profile/", {"time_zone": "Mars/Olympus"})
    assert res.status_code == 200
    assert res.context["form"].errors == {
        "time_zone": ["time_zone: 'Mars/Olympus' is not an IANA time zone name"]
    }
    assert not Profile.objects.exists()


def test_nav_links_on_pages(owner):
    html = client_for(owner).get("/app/profile/").content.decode()
    for href in ("/app/jobs/", "/app/jobs/new/", "/app/schedules/", "/app/schedules/new/", "/app/profile/"):
        assert f'href="{href}"' in html
    assert 'href="/admin/queues/"' not in html  # staff only
