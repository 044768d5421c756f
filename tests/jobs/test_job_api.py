import pytest

from jobs import runtime, submission
from jobs.models import Job


def test_submit_echo_returns_201_with_the_job(api, owner):
    res = api.post("/jobs/submit", {"name": "echo", "data": {"msg": "hi"}}, format="json")
    assert res.status_code == 201
    body = res.json()
    job = Job.objects.get(pk=int(body["jobId"]))
    assert body["id"] == body["jobId"] == str(job.pk)
    assert body["name"] == "echo" and body["state"] == "waiting" and body["data"] == {"msg": "hi"}
    assert body["attemptsMade"] == 0 and body["progress"] == 0 and body["result"] is None
    assert body["scheduleId"] is None
    assert body["timestamp"]["created"] == int(job.created_at.timestamp() * 1000)
    assert body["timestamp"]["started"] is None and body["timestamp"]["finished"] is None
    assert job.owner == owner


@pytest.mark.parametrize("data", [0, "", False, None, [], {"a": [1, 2]}])
def test_any_json_value_is_valid_data(api, data):
    res = api.post("/jobs/submit", {"name": "echo", "data": data}, format="json")
    assert res.status_code == 201
    assert res.json()["data"] == data


def test_unknown_handler_is_400_listing_known_names(api):
    res = api.post("/jobs/submit", {"name": "nope", "data": {}}, format="json")
    assert res.status_code == 400
    msg = res.json()["errors"]["name"][0]
    assert "no handler named 'nope'" in msg and "echo" in msg and "demo.progress" in msg


def test_execute_runs_the_handler_and_stores_the_result(db, owner):
    job, created = submission.job_submit(owner=owner, name="echo", data={"msg": "hi"})
    assert created
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "completed" and job.result == {"msg": "hi"} and job.attempts_made == 1
    assert job.started_at <= job.finished_at
    # a second delivery of the same message does nothing
    assert runtime.job_execute(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.attempts_made == 1


def test_list_is_newest_first_and_only_the_callers(api, other_api, owner, other_user):
    ids = [submission.job_submit(owner=owner, name="echo", data=i)[0].pk for i in range(3)]
    submission.job_submit(owner=other_user, name="echo", data="theirs")
    res = api.get("/jobs?limit=2&page=1")
    assert res.status_code == 200
    body = res.json()
    assert [j["id"] for j in body["jobs"]] == [str(ids[2]), str(ids[1])]
    assert body["pagination"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    assert [j["id"] for j in api.get("/jobs/?page=2&limit=2").json()["jobs"]] == [str(ids[0])]


def test_list_filters_by_status(api, owner):
    done, _ = submission.job_submit(owner=owner, name="echo", data=1)
    runtime.job_execute(job_id=done.pk)
    submission.job_submit(owner=owner, name="echo", data=2)
    body = api.get("/jobs?status=completed").json()
    assert [j["id"] for j in body["jobs"]] == [str(done.pk)]
    bad = api.get("/jobs?status=sideways")
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


def test_other_users_job_is_404(api, other_api, owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1)
    assert api.get(f"/jobs/{job.pk}").status_code == 200
    res = other_api.get(f"/jobs/{job.pk}")
    assert res.status_code == 404
    assert res.json() == {"message": "Not found.", "errors": {}}


def test_jobs_need_authentication(db):
    from rest_framework.test import APIClient

    res = APIClient().get("/jobs")
    assert res.status_code == 401
    assert set(res.json()) == {"message", "errors"}
