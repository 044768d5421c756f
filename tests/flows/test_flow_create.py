"""POST /flows: one transaction, states and counts of every node, validation by path, limits, owners."""

from __future__ import annotations

import pytest

from flows.models import Flow
from jobs.models import Job

pytestmark = pytest.mark.django_db

THREE_LEVELS = {
    "flowname": "report",
    "name": "test.sum",
    "queueName": "jobQueue",
    "data": {"add": 1000},
    "opts": {"attempts": 2},
    "children": [
        {"name": "test.value", "queueName": "flowQueue", "data": {"value": 1}},
        {
            "name": "test.sum",
            "queueName": "schedQueue",
            "data": {"add": 100},
            "children": [
                {"name": "test.value", "queueName": "flowQueue", "data": {"value": 10}},
                {
                    "name": "test.value",
                    "queue": "schedQueue",
                    "data": {"value": 20},
                    "options": {"priority": 3},
                },
            ],
        },
    ],
}


def test_three_level_flow_is_stored_with_states_counts_and_queues(api, owner):
    response = api.post("/flows", THREE_LEVELS, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["message"] == "Flow created successfully"
    flow_id = body["flowId"]
    assert flow_id.startswith("flow_")
    assert body["flow"]["flowId"] == flow_id
    assert body["flow"]["flowname"] == "report"
    assert body["flow"]["name"] == "test.sum"
    assert body["flow"]["queueName"] == "jobQueue"
    assert body["flow"]["status"] == "pending"
    assert body["flow"]["progress"] == {"total": 5, "completed": 0, "failed": 0, "percentage": 0}
    assert body["flow"]["result"] is None
    jobs = list(Job.objects.filter(flow_id=flow_id).order_by("pk"))
    assert [(j.name, j.queue, j.state, j.pending_children) for j in jobs] == [
        ("test.sum", "jobQueue", "waiting-children", 2),
        ("test.value", "flowQueue", "waiting", 0),
        ("test.sum", "schedQueue", "waiting-children", 2),
        ("test.value", "flowQueue", "waiting", 0),
        ("test.value", "schedQueue", "waiting", 0),
    ]
    root, leaf, mid, leaf2, leaf3 = jobs
    assert root.parent_id is None and leaf.parent_id == root.pk and mid.parent_id == root.pk
    assert leaf2.parent_id == mid.pk and leaf3.parent_id == mid.pk
    assert root.options == {"attempts": 2}
    assert leaf3.priority == 3
    assert all(j.owner == owner for j in jobs)
    flow = Flow.objects.get(flow_id=flow_id)
    assert flow.root_id == root.pk and flow.owner == owner


def test_bad_nodes_are_named_by_path_and_nothing_is_stored(api):
    tree = {
        "flowname": "bad",
        "name": "test.sum",
        "queueName": "jobQueue",
        "children": [
            {"name": "test.value", "data": {"value": 1}},
            {
                "name": "test.sum",
                "queueName": "nope",
                "children": [{"name": "no.such.handler"}, {"name": "test.value", "opts": {"attempts": 0}}],
            },
        ],
    }
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"children.1.queueName", "children.1.children.0.name", "children.1.children.1.opts"}
    assert errors["children.1.queueName"][0].startswith("children.1.queueName: no queue named 'nope'")
    assert errors["children.1.children.0.name"][0].startswith(
        "children.1.children.0.name: no handler named 'no.such.handler'"
    )
    assert errors["children.1.children.1.opts"] == [
        "children.1.children.1.opts.attempts: must be between 1 and 1000"
    ]
    assert Job.objects.count() == 0 and Flow.objects.count() == 0


@pytest.mark.parametrize(
    ("tree", "key", "message"),
    [
        (
            {"name": "test.value", "opts": {"failParentOnFailure": True}},
            "opts.failParentOnFailure",
            "opts.failParentOnFailure: only a child job has a parent to fail or go on",
        ),
        (
            {
                "name": "test.sum",
                "children": [{"name": "test.value", "opts": {"ignoreDependencyOnFailure": "yes"}}],
            },
            "children.0.opts.ignoreDependencyOnFailure",
            "children.0.opts.ignoreDependencyOnFailure: must be true or false",
        ),
        (
            {
                "name": "test.sum",
                "children": [
                    {
                        "name": "test.value",
                        "opts": {"ignoreDependencyOnFailure": True, "failParentOnFailure": True},
                    }
                ],
            },
            "children.0.opts",
            "children.0.opts: failParentOnFailure and ignoreDependencyOnFailure exclude each other",
        ),
        (
            {"name": "test.sum", "opts": {"delay": 5}, "children": [{"name": "test.value"}]},
            "opts.delay",
            "opts.delay: a parent job runs when its children are done; it cannot be delayed",
        ),
        ({"name": "test.sum", "children": {"name": "x"}}, "children", "children: must be a list of jobs"),
        (
            {"name": "test.sum", "children": [3]},
            "children.0",
            "children.0: must be an object {name, queueName, data, opts, children}",
        ),
        ({"name": 5}, "flowname", "flowname: required, a non-empty string"),
    ],
)
def test_each_rule_names_its_field(api, tree, key, message):
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][key] == [message]
    assert Job.objects.count() == 0


def test_limits_on_jobs_and_depth(api, settings):
    settings.FLOW_MAX_JOBS = 3
    settings.FLOW_MAX_DEPTH = 2
    wide = {"name": "test.sum", "children": [{"name": "test.value"} for _ in range(3)]}
    response = api.post("/flows", wide, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["children"] == ["children: a flow has at most 3 jobs (FLOW_MAX_JOBS)"]
    deep = {"name": "test.sum", "children": [{"name": "test.sum", "children": [{"name": "test.value"}]}]}
    response = api.post("/flows", deep, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["children.0.children.0"] == [
        "children.0.children.0: a flow is at most 2 levels deep (FLOW_MAX_DEPTH)"
    ]
    assert Job.objects.count() == 0


def test_custom_job_ids_conflict_with_yours_and_within_the_flow(api):
    assert (
        api.post(
            "/jobs/submit",
            {"name": "test.value", "data": {"value": 1}, "options": {"jobId": "k1"}},
            format="json",
        ).status_code
        == 201
    )
    tree = {"name": "test.sum", "children": [{"name": "test.value", "opts": {"jobId": "k1"}}]}
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 409
    assert response.json()["message"] == "children.0.opts.jobId: a job 'k1' of yours exists"
    twice = {
        "name": "test.sum",
        "opts": {"jobId": "k2"},
        "children": [{"name": "test.value", "opts": {"jobId": "k2"}}],
    }
    response = api.post("/flows", twice, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "children.0.opts.jobId": ["children.0.opts.jobId: 'k2' is already the jobId of the root"]
    }
    assert Job.objects.count() == 1


def test_data_too_large_is_a_400_naming_the_node(api, settings):
    settings.JOB_MAX_DATA_BYTES = 20
    tree = {"name": "test.sum", "children": [{"name": "test.value", "data": {"value": "x" * 50}}]}
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["children.0.data"] == [
        "children.0.data: 62 bytes is larger than the limit of 20 bytes"
    ]


def test_flowname_defaults_to_the_root_name_and_our_spellings_work(api):
    response = api.post(
        "/flows",
        {"name": "test.value", "queue": "flowQueue", "options": {"attempts": 3}, "data": {"value": 1}},
        format="json",
    )
    assert response.status_code == 201
    job = Job.objects.get(flow_id=response.json()["flowId"])
    assert (job.queue, job.state, job.options, job.parent_id) == (
        "flowQueue",
        "waiting",
        {"attempts": 3},
        None,
    )
    assert response.json()["flow"]["flowname"] == "test.value"


def test_a_flow_of_the_largest_size_costs_a_few_statements_not_one_per_job(
    api, django_assert_max_num_queries, capsys
):
    import time

    # 1 root, 9 parents, 990 leaves: FLOW_MAX_JOBS (1000) in three levels.
    tree = {
        "name": "test.sum",
        "children": [
            {
                "name": "test.sum",
                "children": [{"name": "test.value", "data": {"value": i}} for i in range(110)],
            }
            for _ in range(9)
        ],
    }
    started = time.perf_counter()
    with django_assert_max_num_queries(40):
        response = api.post("/flows", tree, format="json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 201
    flow_id = response.json()["flowId"]
    assert Job.objects.filter(flow_id=flow_id).count() == 1000
    assert Job.objects.filter(flow_id=flow_id, state="waiting").count() == 990
    assert set(
        Job.objects.filter(flow_id=flow_id, state="waiting-children").values_list(
            "pending_children", flat=True
        )
    ) == {9, 110}
    with capsys.disabled():
        print(f"\n1000-job flow created in {elapsed * 1000:.0f} ms")
    tree["children"].append({"name": "test.value"})
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "children": ["children: a flow has at most 1000 jobs (FLOW_MAX_JOBS)"]
    }
