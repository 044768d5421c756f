"""A job is addressed by its numeric id, by its custom ``options.jobId`` (BullMQ's custom job id, issue 17
item 7) or, for a schedule fire's job, by ``repeat:<schedulerId>:<fire time ms>`` (BullMQ's id of a job
scheduler's job, issue 19): GET, DELETE, cancel and retry, the websocket's subscribe and snapshot. The
job's JSON and events carry that id as ``id``/``jobId``. Precedence rules: :mod:`jobs.ids`."""

from datetime import UTC, datetime

import pytest
from django.http import Http404

from jobs import ids
from jobs.models import Job
from jobs.realtime import publish_job_event
from scheduling import services as schedule_services
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

FIRE = datetime(2030, 1, 1, tzinfo=UTC)
FIRE_MS = 1893456000000


def submit(api, job_id=None, **options) -> dict:
    if job_id is not None:
        options["jobId"] = job_id
    res = api.post("/jobs/submit", {"name": "echo", "data": {"n": 1}, "options": options}, format="json")
    assert res.status_code == 201, res.json()
    return res.json()


def fired_job(owner, scheduler_id: str = "nightly") -> Job:
    """The job of one fire at FIRE, made by beat's dispatch path on a fake clock."""
    schedule_services.schedule_create(
        owner=owner,
        name="echo",
        data={"n": 2},
        schedule={"cron": "0 0 * * *", "startDate": "2030-01-01T00:00:00Z"},
        scheduler_id=scheduler_id,
    )
    sent: list = []
    schedule_services.schedules_dispatch_due(now=FIRE, send=sent.extend)
    schedule_services.schedules_fire(fires=[(pk, datetime.fromisoformat(at)) for pk, at in sent])
    return Job.objects.get(schedule__scheduler_id=scheduler_id, fire_at=FIRE)


def test_custom_job_id_is_the_jobs_id_and_address(api, owner):
    """Issue 17 item 7: ``GET /jobs/nightly-ping-2030-07-01`` was a 404."""
    body = submit(api, "nightly-ping-2030-07-01")
    assert body["id"] == body["jobId"] == "nightly-ping-2030-07-01"
    got = api.get("/jobs/nightly-ping-2030-07-01")
    assert got.status_code == 200 and got.json()["data"] == {"n": 1}
    pk = Job.objects.get(idempotency_key="nightly-ping-2030-07-01").pk
    assert api.get(f"/jobs/{pk}").json()["id"] == "nightly-ping-2030-07-01"  # the numeric id still works
    cancelled = api.post("/jobs/nightly-ping-2030-07-01/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    retried = api.post("/jobs/nightly-ping-2030-07-01/retry")
    assert retried.status_code == 200 and retried.json()["state"] == "waiting"
    Job.objects.filter(pk=pk).update(state="completed")
    assert api.delete("/jobs/nightly-ping-2030-07-01").status_code == 200
    assert api.get("/jobs/nightly-ping-2030-07-01").status_code == 404
    # removed, the id is free again (BullMQ: a removed job is not a duplicate)
    assert submit(api, "nightly-ping-2030-07-01")["id"] == "nightly-ping-2030-07-01"


def test_custom_job_id_is_unique_per_owner(api, other_api, owner, other_user):
    mine = submit(api, "report")
    theirs = submit(other_api, "report")
    assert mine["id"] == theirs["id"] == "report"
    assert api.get("/jobs/report").json()["data"] == {"n": 1}
    Job.objects.filter(owner=other_user).update(data={"n": "theirs"})
    assert other_api.get("/jobs/report").json()["data"] == {"n": "theirs"}
    assert api.get("/jobs/report").json()["data"] == {"n": 1}


def test_numeric_ids_win_over_integer_like_custom_ids(api, owner):
    """Integer form is always the numeric id (BullMQ refuses such custom ids); such a job keeps its
    numeric id. A custom id with a leading zero is not integer form (BullMQ accepts it), so it is one."""
    plain = submit(api)
    shadow = submit(api, plain["id"])  # a custom jobId equal to another job's numeric id
    assert shadow["id"] != plain["id"] and shadow["id"] == str(
        Job.objects.get(idempotency_key=plain["id"]).pk
    )
    assert api.get(f"/jobs/{plain['id']}").json()["data"] == {"n": 1}
    assert api.get(f"/jobs/{plain['id']}").json()["id"] == plain["id"]
    numeric = submit(api, 123456)  # options.jobId may be a number: an idempotency key only
    assert numeric["id"] == str(Job.objects.get(idempotency_key="123456").pk)
    assert api.get("/jobs/123456").status_code == 404
    padded = submit(api, "007")
    assert padded["id"] == "007" and api.get("/jobs/007").json()["id"] == "007"


def test_custom_ids_that_cannot_be_addresses_keep_the_numeric_id(api):
    slash = submit(api, "a/b")
    assert slash["id"] == str(Job.objects.get(idempotency_key="a/b").pk)


def test_repeat_shaped_custom_ids_are_refused(api):
    res = api.post(
        "/jobs/submit",
        {"name": "echo", "data": 1, "options": {"jobId": "repeat:nightly:1893456000000"}},
        format="json",
    )
    assert res.status_code == 400
    assert res.json()["errors"] == {
        "options": [
            "options.jobId: ids of the form repeat:<schedulerId>:<ms> are the ids of schedule fires' jobs"
        ]
    }


def test_a_fires_job_has_bullmqs_repeat_id_and_is_addressed_by_it(api, owner):
    """Issue 19 Deliver 4; BullMQ: "should emit a waiting event when adding a repeatable job to the
    waiting list" (its jobId is ``repeat:<schedulerId>:<ms>``)."""
    job = fired_job(owner)
    repeat_id = f"repeat:nightly:{FIRE_MS}"
    assert job.public_id == repeat_id
    listed = api.get("/jobs/schedule/nightly/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [repeat_id]
    got = api.get(f"/jobs/{repeat_id}")
    assert got.status_code == 200
    assert (got.json()["id"], got.json()["jobId"], got.json()["scheduleId"]) == (
        repeat_id,
        repeat_id,
        "nightly",
    )
    assert got.json()["fireAt"] == "2030-01-01T00:00:00Z"
    assert api.get(f"/jobs/{job.pk}").json()["id"] == repeat_id
    assert api.post(f"/jobs/{repeat_id}/cancel").json()["state"] == "cancelled"
    assert api.post(f"/jobs/{repeat_id}/retry").json()["state"] == "waiting"
    Job.objects.filter(pk=job.pk).update(state="failed")
    assert api.delete(f"/jobs/{repeat_id}").status_code == 200
    assert not Job.objects.filter(pk=job.pk).exists()
    assert api.get(f"/jobs/{repeat_id}").status_code == 404


def test_repeat_ids_take_scheduler_ids_with_colons(api, owner):
    """BullMQ: "when job scheduler id contains 5 or more colon segments" (issue #3828)."""
    job = fired_job(owner, "tenant:region:env:service:queue:task")
    repeat_id = f"repeat:tenant:region:env:service:queue:task:{FIRE_MS}"
    assert job.public_id == repeat_id
    assert api.get(f"/jobs/{repeat_id}").json()["data"] == {"n": 2}
    assert api.get(f"/jobs/repeat:tenant:region:env:service:queue:task:{FIRE_MS + 1}").status_code == 404


def test_fire_times_stored_with_microseconds_still_match_their_repeat_id(api, owner):
    job = fired_job(owner)
    Job.objects.filter(pk=job.pk).update(fire_at=FIRE.replace(microsecond=250))
    assert api.get(f"/jobs/repeat:nightly:{FIRE_MS}").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/jobs/{id}", "/jobs/{id}/cancel", "/jobs/{id}/retry"],
)
def test_outsiders_get_404_by_every_kind_of_id(api, other_api, owner, path):
    custom = submit(api, "mine")
    plain = submit(api)
    fired = fired_job(owner).public_id
    for job_id in (custom["id"], plain["id"], fired):
        url = path.format(id=job_id)
        res = other_api.get(url) if path == "/jobs/{id}" else other_api.post(url)
        assert res.status_code == 404, (url, res.json())
        assert other_api.delete(f"/jobs/{job_id}").status_code == 404
    assert Job.objects.count() == 3


@pytest.mark.parametrize(
    "job_id", ["99999999999999999999999", "-1", "0", "repeat:x:99999999999999999", "repeat::1"]
)
def test_ids_that_name_nothing_are_404(api, job_id):
    assert api.get(f"/jobs/{job_id}").status_code == 404


def test_public_id_rules():
    assert ids.integer_id("42") == 42 and ids.integer_id("042") is None and ids.integer_id("-3") == -3
    assert ids.parse_repeat_job_id("repeat:a:b:1000") == ("a:b", datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert ids.parse_repeat_job_id("repeat:a:") is None and ids.parse_repeat_job_id("repeat:1000") is None
    assert [ids.is_addressable_key(k) for k in ("x", "42", "007", "a/b", "repeat:s:1", "")] == [
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    assert ids.epoch_ms(datetime(2030, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC)) == FIRE_MS + 999


def test_events_and_webhook_payloads_carry_the_public_id(owner):
    hook = Webhook.objects.create(
        owner=owner, url="http://127.0.0.1:9/hook", event_type="completed", secret="whsec_AAAA"
    )
    job = fired_job(owner)
    message = publish_job_event(job, "completed", result={"ok": True})
    assert message["jobId"] == f"repeat:nightly:{FIRE_MS}"
    delivery = Delivery.objects.get(webhook=hook)
    assert (delivery.payload["id"], delivery.payload["jobId"], delivery.job_id) == (
        message["jobId"],
        message["jobId"],
        job.pk,
    )


def test_each_kind_of_id_is_one_indexed_query(owner, django_assert_num_queries):
    from jobs.selectors import job_get

    custom = Job.objects.create(owner=owner, name="echo", idempotency_key="mine")
    fired = fired_job(owner)
    for job_id, job in ((str(custom.pk), custom), ("mine", custom), (f"repeat:nightly:{FIRE_MS}", fired)):
        with django_assert_num_queries(1):
            assert job_get(user=owner, job_id=job_id).pk == job.pk
    with django_assert_num_queries(2):  # a repeat: id that names no fire is also tried as a custom id
        with pytest.raises(Http404):
            job_get(user=owner, job_id=f"repeat:nightly:{FIRE_MS + 1}")
