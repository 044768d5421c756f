"""GET/PUT/DELETE/cancel of /flows: the original's shapes, owner checks (another user: 404 everywhere)."""

from __future__ import annotations

import pytest

from flows.models import Flow
from jobs.models import Job
from jobs.runtime import job_execute

pytestmark = pytest.mark.django_db

TREE = {
    "flowname": "pair",
    "name": "test.sum",
    "queueName": "jobQueue",
    "data": {"add": 1},
    "children": [
        {"name": "test.value", "queueName": "flowQueue", "data": {"value": 2}},
        {"name": "test.value", "data": {"value": 3}, "opts": {"ignoreDependencyOnFailure": True}},
    ],
}


@pytest.fixture
def flow_id(api):
    response = api.post("/flows", TREE, format="json")
    assert response.status_code == 201
    return response.json()["flowId"]


def test_list_answers_an_array_of_flow_responses_newest_first(api, other_api, flow_id):
    second = api.post("/flows", {**TREE, "flowname": "second"}, format="json").json()["flowId"]
    other_api.post("/flows", {**TREE, "flowname": "theirs"}, format="json")
    response = api.get("/flows")
    assert response.status_code == 200
    body = response.json()
    assert [f["flowId"] for f in body] == [second, flow_id]
    assert set(body[0]) == {
        "flowId",
        "flowname",
        "name",
        "queueName",
        "status",
        "progress",
        "result",
        "error",
        "createdAt",
        "updatedAt",
        "startedAt",
        "completedAt",
    }
    assert api.get("/flows?status=completed").json() == []
    assert [f["flowId"] for f in api.get("/flows?status=pending&limit=1").json()] == [second]
    assert api.get("/flows?status=nope").status_code == 400
    assert api.get("/flows?limit=0").json()["errors"] == {"limit": ["limit: an integer from 1 to 1000"]}


def test_one_flow_and_its_tree(api, flow_id):
    body = api.get(f"/flows/{flow_id}").json()
    assert (body["flowId"], body["status"], body["progress"]) == (
        flow_id,
        "pending",
        {"total": 3, "completed": 0, "failed": 0, "percentage": 0},
    )
    root, a, b = Job.objects.filter(flow_id=flow_id).order_by("pk")
    job_execute(job_id=a.pk)
    tree = api.get(f"/flows/{flow_id}/jobs").json()
    assert tree == {
        "flowId": flow_id,
        "flowname": "pair",
        "name": "test.sum",
        "queueName": "jobQueue",
        "data": {"add": 1},
        "opts": {"attempts": 1},
        "jobId": str(root.pk),
        "id": root.pk,
        "state": "waiting-children",
        "progress": 0,
        "result": None,
        "failedReason": None,
        "pendingChildren": 1,
        "children": [
            {
                "name": "test.value",
                "queueName": "flowQueue",
                "data": {"value": 2},
                "opts": {"attempts": 1},
                "jobId": str(a.pk),
                "id": a.pk,
                "state": "completed",
                "progress": 100,
                "result": 2,
                "failedReason": None,
                "pendingChildren": 0,
                "children": [],
            },
            {
                "name": "test.value",
                "queueName": "jobQueue",
                "data": {"value": 3},
                "opts": {"attempts": 1, "ignoreDependencyOnFailure": True},
                "jobId": str(b.pk),
                "id": b.pk,
                "state": "waiting",
                "progress": 0,
                "result": None,
                "failedReason": None,
                "pendingChildren": 0,
                "children": [],
            },
        ],
    }
    assert api.get(f"/flows/{flow_id}").json()["status"] == "running"


def test_put_applies_progress_of_an_active_job_only(api, flow_id):
    root, a, _ = Job.objects.filter(flow_id=flow_id).order_by("pk")
    url = f"/flows/{flow_id}/jobs/{a.pk}"
    update = {"status": "completed", "result": {"x": 1}, "progress": 40, "jobName": "z", "queueName": "q"}
    response = api.put(url, update, format="json")
    assert (response.status_code, response.json()) == (200, {"message": "Flow updated successfully"})
    assert (Job.objects.get(pk=a.pk).state, Job.objects.get(pk=a.pk).progress) == ("waiting", 0)  # not active
    Job.objects.filter(pk=a.pk).update(state="active")
    assert api.put(url, update, format="json").status_code == 200
    a.refresh_from_db()
    assert (a.state, a.progress, a.result) == ("active", 40, None)  # state and result stay the runtime's
    response = api.put(url, {"progress": "half"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"progress": ["progress: must be a number 0-100 or a JSON object"]}
    assert api.put(f"/flows/{flow_id}/jobs/999999", {"progress": 1}, format="json").status_code == 404
    outside = api.post("/jobs/submit", {"name": "test.value", "data": {"value": 1}}, format="json").json()[
        "id"
    ]
    assert api.put(f"/flows/{flow_id}/jobs/{outside}", {"progress": 1}, format="json").status_code == 404


def test_cancel_cascades_and_a_second_cancel_is_409(api, flow_id):
    response = api.post(f"/flows/{flow_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert sorted(Job.objects.filter(flow_id=flow_id).values_list("state", flat=True)) == ["cancelled"] * 3
    response = api.post(f"/flows/{flow_id}/cancel")
    assert (response.status_code, response.json()["message"]) == (
        409,
        f"flow {flow_id} is cancelled; nothing left to cancel",
    )


def test_cancel_asks_an_active_job_to_stop(api, flow_id):
    root, a, b = Job.objects.filter(flow_id=flow_id).order_by("pk")
    Job.objects.filter(pk=a.pk).update(state="active")
    assert api.post(f"/flows/{flow_id}/cancel").status_code == 200
    a.refresh_from_db()
    assert (a.state, a.cancel_requested) == ("active", True)
    assert Job.objects.get(pk=root.pk).state == "cancelled"
    assert Job.objects.get(pk=b.pk).state == "cancelled"


def test_delete_removes_every_job_in_the_original_shape(api, flow_id):
    root, a, b = Job.objects.filter(flow_id=flow_id).order_by("pk")
    Job.objects.filter(pk=a.pk).update(state="active")
    response = api.delete(f"/flows/{flow_id}")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Flow deleted successfully",
        "flowId": flow_id,
        "deletedJobs": {
            "total": 3,
            "successful": 3,
            "failed": [],
            "details": [
                {"jobId": str(root.pk), "queueName": "jobQueue", "status": "success"},
                {"jobId": str(a.pk), "queueName": "flowQueue", "status": "success"},
                {"jobId": str(b.pk), "queueName": "jobQueue", "status": "success"},
            ],
        },
    }
    assert not Job.objects.filter(flow_id=flow_id).exists() and not Flow.objects.exists()
    assert api.get(f"/flows/{flow_id}").status_code == 404


def test_outsider_gets_404_on_every_route(other_api, flow_id, api):
    a = Job.objects.filter(flow_id=flow_id).order_by("pk")[1]
    for method, url, body in [
        ("get", f"/flows/{flow_id}", None),
        ("get", f"/flows/{flow_id}/jobs", None),
        ("put", f"/flows/{flow_id}/jobs/{a.pk}", {"progress": 1}),
        ("post", f"/flows/{flow_id}/cancel", None),
        ("delete", f"/flows/{flow_id}", None),
    ]:
        response = getattr(other_api, method)(url, body, format="json")
        assert (method, url, response.status_code, response.json()) == (
            method,
            url,
            404,
            {"message": "Not found.", "errors": {}},
        )
    assert other_api.get("/flows").json() == []
    assert Job.objects.filter(flow_id=flow_id).count() == 3
    assert api.get(f"/flows/{flow_id}").status_code == 200


def test_anonymous_gets_401(client, flow_id):
    assert client.get("/flows").status_code == 401
    assert client.post("/flows", TREE, content_type="application/json").status_code == 401


def test_a_flows_jobs_name_their_flow_and_parent_in_the_api_and_pages(
    api, flow_id, client, owner, other_user
):
    root, a, _ = Job.objects.filter(flow_id=flow_id).order_by("pk")
    body = api.get(f"/jobs/{a.pk}").json()
    assert (body["flowId"], body["parentId"], body["state"]) == (flow_id, root.pk, "waiting")
    body = api.get(f"/jobs/{root.pk}").json()
    assert (body["flowId"], body["parentId"], body["state"]) == (flow_id, None, "waiting-children")
    client.force_login(owner)
    html = client.get(f"/app/jobs/{a.pk}/").content.decode()
    assert f'href="/app/flows/{flow_id}/"' in html and f'href="/app/jobs/{root.pk}/">#{root.pk}</a>' in html
    html = client.get("/app/flows/").content.decode()
    assert f'<tr data-flow-id="{flow_id}">' in html and "0 / 3" in html
    html = client.get(f"/app/flows/{flow_id}/").content.decode()
    assert html.count('class="flow-node"') == 3 and 'id="flow-status">pending<' in html
    response = client.post(f"/app/flows/{flow_id}/cancel/")
    assert (response.status_code, response["Location"]) == (302, f"/app/flows/{flow_id}/")
    assert Flow.objects.get(flow_id=flow_id).status == "cancelled"
    client.force_login(other_user)
    assert client.get(f"/app/flows/{flow_id}/").status_code == 404
    assert client.post(f"/app/flows/{flow_id}/delete/").status_code == 404
    assert Job.objects.filter(flow_id=flow_id).count() == 3
