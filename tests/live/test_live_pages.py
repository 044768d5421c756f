"""The live page and the job detail page: owner only, rendered from the database."""

import pytest
from django.test import Client

from jobs.models import Job

pytestmark = [pytest.mark.django_db]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_signed_in_user():
    client = Client()
    assert client.get("/app/live/")["Location"] == "/login/?next=/app/live/"
    assert client.get("/app/jobs/1/")["Location"] == "/login/?next=/app/jobs/1/"


def test_live_page_lists_only_own_jobs_newest_first_with_progress(owner, other_user):
    older = Job.objects.create(owner=owner, name="echo", data=None, state="completed", progress=0)
    newer = Job.objects.create(
        owner=owner, name="demo.progress", data={}, state="active", progress=40, output="step 1\n"
    )
    theirs = Job.objects.create(owner=other_user, name="secret.job", data={}, state="active")
    res = client_for(owner).get("/app/live/")
    assert res.status_code == 200
    assert [job.pk for job in res.context["jobs"]] == [newer.pk, older.pk]
    html = res.content.decode()
    assert f'data-job-id="{newer.pk}" data-state="active"' in html
    assert 'aria-valuenow="40"><span data-field="bar" style="width: 40%">' in html
    assert 'aria-valuenow="100"><span data-field="bar" style="width: 100%">' in html  # completed: full bar
    assert '<pre class="live-output" data-field="output">step 1\n</pre>' in html
    assert "secret.job" not in html and f'data-job-id="{theirs.pk}"' not in html
    assert "/static/js/live.js" in html


def test_job_detail_page_shows_the_job_and_is_404_for_others(owner, other_user):
    job = Job.objects.create(
        owner=owner,
        name="echo",
        data={"a": 1},
        options={"attempts": 2},
        state="failed",
        failed_reason="ValueError: bad",
        output="partial",
    )
    res = client_for(owner).get(f"/app/jobs/{job.pk}/")
    assert res.status_code == 200
    html = res.content.decode()
    assert '<pre class="json">{\n  &quot;a&quot;: 1\n}</pre>' in html
    assert '<pre class="json">{\n  &quot;attempts&quot;: 2\n}</pre>' in html
    assert '<p class="failed-reason" id="failed-reason">ValueError: bad</p>' in html
    assert '<pre class="live-output" data-field="output">partial</pre>' in html
    assert client_for(other_user).get(f"/app/jobs/{job.pk}/").status_code == 404
    assert client_for(owner).get("/app/jobs/999999/").status_code == 404
