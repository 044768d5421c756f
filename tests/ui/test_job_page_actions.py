"""Job actions on the owner's pages: the job page's buttons and the jobs list's bulk form, through the
API's services with the API's 409 words; other users get 404 or select nothing."""

import pytest

from jobs import submission
from jobs.models import Job

from .helpers import client_for

pytestmark = pytest.mark.django_db


def job(owner, state, **fields) -> Job:
    return Job.objects.create(owner=owner, name="echo", data=1, state=state, **fields)


def messages_of(res) -> list[str]:
    return [str(m) for m in res.context["messages"]]


def test_buttons_follow_the_state(owner):
    client = client_for(owner)
    shown = {}
    for state in ("waiting", "delayed", "active", "completed", "failed", "cancelled"):
        row = job(owner, state)
        html = client.get(f"/app/jobs/{row.pk}/").content.decode()
        shown[state] = [a for a in ("retry", "cancel", "promote", "delete") if f'data-action="{a}"' in html]
    assert shown == {
        "waiting": ["cancel", "delete"],  # deleting takes any job but an active one (BullMQ's rule)
        "delayed": ["cancel", "promote", "delete"],
        "active": ["cancel"],
        "completed": ["delete"],
        "failed": ["retry", "delete"],
        "cancelled": ["retry", "delete"],
    }


def test_each_action_runs_its_service_and_a_refusal_reads_as_the_api(owner, api):
    client = client_for(owner)
    failed = job(owner, "failed", failed_reason="boom")
    res = client.post(f"/app/jobs/{failed.pk}/retry/", follow=True)
    assert messages_of(res) == [f"Job #{failed.pk} put back to waiting."]
    failed.refresh_from_db()
    assert failed.state == "waiting"
    res = client.post(f"/app/jobs/{failed.pk}/retry/", follow=True)
    api_words = api.post(f"/jobs/{failed.pk}/retry").json()["message"]
    assert (
        messages_of(res)
        == [api_words]
        == [f"job {failed.pk} is waiting; only failed or cancelled jobs can be retried"]
    )
    delayed, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"delay": 60_000})
    assert messages_of(client.post(f"/app/jobs/{delayed.pk}/promote/", follow=True)) == [
        f"Job #{delayed.pk} promoted: it runs now."
    ]
    active = job(owner, "active", attempts_made=1)
    assert messages_of(client.post(f"/app/jobs/{active.pk}/cancel/", follow=True)) == [
        f"Job #{active.pk}: cancel requested; it stops at its next check."
    ]
    done = job(owner, "completed")
    res = client.post(f"/app/jobs/{done.pk}/delete/")
    assert res.status_code == 302 and res["Location"] == "/app/jobs/"
    assert not Job.objects.filter(pk=done.pk).exists()


def test_outsider_gets_404_and_nothing_changes(owner, other_user):
    failed = job(owner, "failed")
    outsider = client_for(other_user)
    for action in ("retry", "delete", "cancel", "promote"):
        assert outsider.post(f"/app/jobs/{failed.pk}/{action}/").status_code == 404
    assert client_for(owner).post(f"/app/jobs/{failed.pk}/explode/").status_code == 404
    assert client_for(owner).get(f"/app/jobs/{failed.pk}/retry/").status_code == 405
    res = outsider.post("/app/jobs/bulk/", {"action": "delete", "job": [failed.pk]}, follow=True)
    assert messages_of(res) == ["0 job(s) deleted."]
    failed.refresh_from_db()
    assert failed.state == "failed"


def test_bulk_form_acts_on_the_ticked_jobs_and_goes_back(owner):
    client = client_for(owner)
    ticked = [job(owner, "failed"), job(owner, "cancelled"), job(owner, "completed")]
    untouched = job(owner, "failed")
    res = client.post(
        "/app/jobs/bulk/",
        {"action": "retry", "job": [j.pk for j in ticked] + ["x", ""], "next": "/app/jobs/?state=failed"},
    )
    assert res.status_code == 302 and res["Location"] == "/app/jobs/?state=failed"
    assert [Job.objects.get(pk=j.pk).state for j in ticked] == ["waiting", "waiting", "completed"]
    assert Job.objects.get(pk=untouched.pk).state == "failed"
    res = client.get("/app/jobs/")
    assert messages_of(res) == [
        "2 job(s) put back to waiting.",
        f"1 job(s) left as they were: job {ticked[2].pk} is completed; "
        "only failed or cancelled jobs can be retried",
    ]
    res = client.post("/app/jobs/bulk/", {"action": "retry", "next": "https://evil.test/"}, follow=True)
    assert res.redirect_chain == [("/app/jobs/", 302)] and messages_of(res) == ["Select at least one job."]
    assert messages_of(client.post("/app/jobs/bulk/", {"action": "nope", "job": [1]}, follow=True)) == [
        "action: must be one of retry, cancel, promote, delete"
    ]


def test_a_job_with_a_custom_id_shows_it_and_its_actions_post_by_number(owner):
    row, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"jobId": "nightly-2030-07-01"})
    html = client_for(owner).get("/app/jobs/nightly-2030-07-01/").content.decode()
    assert '<dd class="mono" id="job-public-id">nightly-2030-07-01</dd>' in html
    assert f'action="/app/jobs/{row.pk}/cancel/"' in html
    assert 'data-refresh-job="nightly-2030-07-01"' in html
