"""Contract tests of JobRunner v0.0.2's routes under a named queue (issue 16; src/routes/jobs.ts,
scheduler.ts, queues.ts and middleware/validateQueue.ts at cf39ad3): the original's request bodies,
statuses and keys, every answer validated against our served OpenAPI description, an undeclared queue
refused with the original's message, and every route a 404 for another user's job or schedule."""

from __future__ import annotations

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from rest_framework.test import APIClient

from jobs import queue_control
from jobs.models import Job
from scheduling import services as schedule_services
from scheduling.models import Schedule

SCHEDULE_BODY = {  # the HEAD React app's NewSchedulePage body
    "name": "echo",
    "data": {"key1": "value1"},
    "schedule": {"cron": "0 0 * * *", "tz": "America/New_York"},
    "options": {"removeOnComplete": {"count": 3}},
}


@pytest.fixture(scope="module")
def openapi(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        spec = APIClient().get("/api-docs.json").json()
    return OpenAPI.from_dict(spec)


def call(client, openapi, method: str, path: str, body=None, status: int = 200):
    """One request; its status checked and its JSON answer validated against the served spec."""
    response = (
        getattr(client, method)(path, body, format="json")
        if body is not None
        else getattr(client, method)(path)
    )
    assert response.status_code == status, (method, path, response.content[:500])
    request = MockRequest("http://testserver", method, path.split("?")[0])
    answer = MockResponse(response.content, status_code=response.status_code, content_type="application/json")
    openapi.validate_response(request, answer)
    return response.json()


def timestamps(job: dict) -> None:
    assert set(job["timestamp"]) == {"created", "started", "finished"}
    assert isinstance(job["timestamp"]["created"], int)


@pytest.mark.django_db
def test_job_routes_under_a_queue_answer_with_the_originals_shapes(api, openapi):
    assert call(api, openapi, "get", "/queues")["queues"] == ["jobQueue", "schedQueue", "flowQueue"]
    submitted = call(
        api, openapi, "post", "/jobs/schedQueue/submit", {"name": "echo", "data": {"n": 1}}, status=201
    )
    job_id = submitted["jobId"]
    assert isinstance(job_id, str) and submitted["queueName"] == "schedQueue"
    assert Job.objects.get(pk=int(job_id)).queue == "schedQueue"

    job = call(api, openapi, "get", f"/jobs/schedQueue/job/{job_id}")
    assert (job["id"], job["name"], job["state"], job["progress"], job["result"], job["failedReason"]) == (
        job_id,
        "echo",
        "waiting",
        0,
        None,
        None,
    )
    timestamps(job)
    listed = call(api, openapi, "get", "/jobs/schedQueue?page=1&limit=10")
    assert [j["id"] for j in listed["jobs"]] == [job_id]
    assert listed["pagination"] == {"total": 1, "page": 1, "limit": 10, "pages": 1}
    assert call(api, openapi, "get", "/jobs/jobQueue")["jobs"] == []
    assert call(api, openapi, "get", "/jobs/schedQueue?status=completed")["jobs"] == []

    cancelled = call(api, openapi, "post", f"/jobs/schedQueue/job/{job_id}/cancel")
    assert cancelled["state"] == "cancelled"
    assert call(api, openapi, "delete", f"/jobs/schedQueue/job/{job_id}") == {
        "message": "Job deleted successfully",
        "id": job_id,
    }
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_schedule_routes_under_a_queue_answer_with_the_originals_shapes(api, openapi):
    created = call(api, openapi, "post", "/jobs/schedQueue/schedule", SCHEDULE_BODY, status=201)
    scheduler_id = created["schedulerId"]
    assert created["queueName"] == "schedQueue"
    listed = call(api, openapi, "get", "/jobs/schedQueue/schedule")
    assert [s["schedulerId"] for s in listed["scheduledJobs"]] == [scheduler_id]
    assert call(api, openapi, "get", "/jobs/jobQueue/schedule")["scheduledJobs"] == []
    one = call(api, openapi, "get", f"/jobs/schedQueue/schedule/{scheduler_id}")
    assert (one["key"], one["name"], one["pattern"], one["tz"]) == (
        scheduler_id,
        "echo",
        "0 0 * * *",
        "America/New_York",
    )
    assert isinstance(one["next"], int)  # epoch ms: the React scheduler page does new Date(job.next)
    call(api, openapi, "get", f"/jobs/jobQueue/schedule/{scheduler_id}", status=404)
    call(api, openapi, "delete", f"/jobs/jobQueue/schedule/{scheduler_id}", status=404)
    assert call(api, openapi, "delete", f"/jobs/schedQueue/schedule/{scheduler_id}") == {
        "message": "Scheduled job removed successfully"
    }
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_an_undeclared_queue_is_a_400_with_the_originals_message(api, openapi):
    routes = [
        ("post", "/jobs/nope/submit", {"name": "echo", "data": 1}),
        ("get", "/jobs/nope/job/1", None),
        ("delete", "/jobs/nope/job/1", None),
        ("post", "/jobs/nope/job/1/cancel", None),
        ("post", "/jobs/nope/schedule", SCHEDULE_BODY),
        ("get", "/jobs/nope/schedule", None),
        ("get", "/jobs/nope/schedule/x", None),
        ("delete", "/jobs/nope/schedule/x", None),
    ]
    for method, path, body in routes:
        answer = call(api, openapi, method, path, body, status=400)
        assert answer["message"] == "Queue 'nope' is not a valid queue.", path
        assert list(answer["errors"]) == ["queueName"], path
    assert not Job.objects.exists() and not Schedule.objects.exists()
    # GET /jobs/{segment} is a job id when the segment is not a declared queue (docs/queues.md).
    assert call(api, openapi, "get", "/jobs/nope", status=404)["message"] == "Not found."


@pytest.mark.django_db
def test_another_user_gets_404_on_every_v002_route(api, other_api, owner, openapi):
    job_id = call(api, openapi, "post", "/jobs/jobQueue/submit", {"name": "echo", "data": 1}, status=201)[
        "jobId"
    ]
    scheduler_id = call(api, openapi, "post", "/jobs/jobQueue/schedule", SCHEDULE_BODY, status=201)[
        "schedulerId"
    ]
    for method, path in [
        ("get", f"/jobs/jobQueue/job/{job_id}"),
        ("delete", f"/jobs/jobQueue/job/{job_id}"),
        ("post", f"/jobs/jobQueue/job/{job_id}/cancel"),
        ("get", f"/jobs/jobQueue/schedule/{scheduler_id}"),
        ("delete", f"/jobs/jobQueue/schedule/{scheduler_id}"),
    ]:
        call(other_api, openapi, method, path, status=404)
    assert call(other_api, openapi, "get", "/jobs/jobQueue")["jobs"] == []
    assert call(other_api, openapi, "get", "/jobs/jobQueue/schedule")["scheduledJobs"] == []
    assert Job.objects.get(pk=int(job_id)).state == "waiting"
    assert Schedule.objects.filter(scheduler_id=scheduler_id, owner=owner).exists()
    # A job of another queue is a 404 too, for its owner.
    call(api, openapi, "get", f"/jobs/schedQueue/job/{job_id}", status=404)
    call(api, openapi, "delete", f"/jobs/schedQueue/job/{job_id}", status=404)
    # No credentials: 401, as every API route.
    assert APIClient().get("/queues").status_code == 401
    assert APIClient().get("/jobs/jobQueue").status_code == 401


@pytest.mark.django_db
def test_v001_routes_keep_working_beside_the_queue_routes(api, openapi):
    job = call(api, openapi, "post", "/jobs/submit", {"name": "echo", "data": 2}, status=201)
    assert job["queueName"] == "jobQueue"
    assert call(api, openapi, "get", f"/jobs/{job['jobId']}")["id"] == job["jobId"]
    schedule = call(api, openapi, "post", "/jobs/schedule", SCHEDULE_BODY, status=201)
    assert schedule["queueName"] == "jobQueue"
    assert (
        call(api, openapi, "get", f"/jobs/schedule/{schedule['schedulerId']}")["key"]
        == schedule["schedulerId"]
    )
    # A custom job id that is a queue's name: /jobs/{queueName} wins, the v0.0.2 route reaches the job.
    named = call(
        api,
        openapi,
        "post",
        "/jobs/submit",
        {"name": "echo", "data": 3, "options": {"jobId": "flowQueue"}},
        status=201,
    )
    assert "jobs" in call(api, openapi, "get", "/jobs/flowQueue")
    assert call(api, openapi, "get", "/jobs/jobQueue/job/flowQueue")["id"] == named["id"] == "flowQueue"
    # Schedule ids that are our own route words stay schedules, never a queue named "schedule".
    odd = call(
        api, openapi, "post", "/jobs/schedule", {**SCHEDULE_BODY, "schedulerId": "schedule"}, status=201
    )
    # (Not validated against the spec: OpenAPI's template /jobs/{queueName}/schedule matches this path too.)
    assert api.get("/jobs/schedule/schedule").json()["schedulerId"] == odd["schedulerId"]


@pytest.mark.django_db
def test_a_queue_in_the_body_is_validated_and_names_the_field(api):
    bad = api.post("/jobs/submit", {"name": "echo", "data": 1, "queue": "nope"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["queue"], bad.json()
    assert bad.json()["errors"]["queue"][0].startswith(
        "queue: no queue named 'nope'; declared queues: jobQueue"
    )
    bulk = api.post(
        "/jobs/submit/bulk",
        [{"name": "echo", "data": 1, "queue": "flowQueue"}, {"name": "echo", "data": 2, "queue": "nope"}],
        format="json",
    )
    assert bulk.status_code == 400 and list(bulk.json()["errors"]) == ["1.queue"], bulk.json()
    ok = api.post(
        "/jobs/submit/bulk",
        [{"name": "echo", "data": 1, "queue": "flowQueue"}, {"name": "echo", "data": 2}],
        format="json",
    )
    assert [j["queueName"] for j in ok.json()] == ["flowQueue", "jobQueue"]
    schedule = api.post("/jobs/schedule", {**SCHEDULE_BODY, "queue": "nope"}, format="json")
    assert schedule.status_code == 400 and list(schedule.json()["errors"]) == ["queue"], schedule.json()
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_a_schedules_queue_is_kept_on_edit_and_given_to_every_job_it_makes(api, owner):
    made = api.post("/jobs/schedule", {**SCHEDULE_BODY, "queue": "schedQueue"}, format="json").json()
    sid = made["schedulerId"]
    assert (
        api.patch(f"/jobs/schedule/{sid}", {"data": {"k": 2}}, format="json").json()["queueName"]
        == "schedQueue"
    )
    row = Schedule.objects.get(scheduler_id=sid)
    assert schedule_services.schedule_trigger(schedule=row).queue == "schedQueue"
    patched = api.patch(f"/jobs/schedule/{sid}", {"queue": "flowQueue"}, format="json")
    assert patched.status_code == 200 and patched.json()["queueName"] == "flowQueue"
    Schedule.objects.filter(pk=row.pk).update(next_fire_at=row.next_fire_at.replace(year=2000))
    assert schedule_services.schedules_dispatch_due() == 1
    assert sorted(Job.objects.filter(schedule=row).values_list("queue", flat=True)) == [
        "flowQueue",
        "schedQueue",
    ]


@pytest.mark.django_db
def test_a_waiting_job_of_a_paused_queue_reports_bullmqs_paused(api, openapi):
    queue_control.queue_pause(name="schedQueue")
    job_id = call(api, openapi, "post", "/jobs/schedQueue/submit", {"name": "echo", "data": 1}, status=201)[
        "jobId"
    ]
    other = call(api, openapi, "post", "/jobs/jobQueue/submit", {"name": "echo", "data": 2}, status=201)[
        "jobId"
    ]
    assert call(api, openapi, "get", f"/jobs/schedQueue/job/{job_id}")["state"] == "paused"
    assert [j["state"] for j in call(api, openapi, "get", "/jobs/schedQueue")["jobs"]] == ["paused"]
    assert [j["id"] for j in api.get("/jobs?status=paused").json()["jobs"]] == [job_id]
    assert [j["id"] for j in api.get("/jobs?status=waiting").json()["jobs"]] == [other]
    assert api.get(f"/jobs/{job_id}").json()["state"] == "waiting"  # our own JSON keeps our state
    stats = api.get("/dashboard/stats").json()
    assert (stats["jobStats"]["paused"], stats["jobStats"]["waiting"], stats["jobStats"]["total"]) == (
        1,
        1,
        2,
    )
    by_name = {q["name"]: q for q in stats["queueStats"]}
    assert list(by_name) == ["jobQueue", "schedQueue", "flowQueue"]
    assert (
        by_name["schedQueue"]["paused"],
        by_name["schedQueue"]["waiting"],
        by_name["schedQueue"]["total"],
    ) == (
        1,
        0,
        1,
    )
    assert (by_name["jobQueue"]["waiting"], by_name["jobQueue"]["total"], by_name["flowQueue"]["total"]) == (
        1,
        1,
        0,
    )
    assert by_name["jobQueue"]["waiting-children"] == 0
    details = {q["name"]: q for q in call(api, openapi, "get", "/queues")["details"]}
    assert details["schedQueue"] == {"name": "schedQueue", "paused": True, "limiter": None}
    queue_control.queue_resume(name="schedQueue")
    assert call(api, openapi, "get", f"/jobs/schedQueue/job/{job_id}")["state"] == "waiting"
