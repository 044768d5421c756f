"""Job options: validation (every bad option is a 400 naming it), backoff and priority maps, their effects."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import maintenance, runtime, submission
from jobs.models import Job
from jobs.options import backoff_delay_ms, broker_priority, keep_rule


@pytest.mark.parametrize(
    ("backoff", "attempts_made", "expected_ms"),
    [
        (None, 1, 0),
        (0, 3, 0),
        (500, 1, 500),
        (500, 4, 500),
        ({"type": "fixed", "delay": 250}, 1, 250),
        ({"type": "fixed", "delay": 250}, 7, 250),
        ({"type": "fixed"}, 2, 0),
        ({"type": "exponential", "delay": 1000}, 1, 1000),
        ({"type": "exponential", "delay": 1000}, 2, 2000),
        ({"type": "exponential", "delay": 1000}, 3, 4000),
        ({"type": "exponential", "delay": 1000}, 10, 512_000),
        ({"type": "exponential", "delay": 3}, 2, 6),
        ({"type": "exponential", "delay": 1000}, 0, 0),
        ({"type": "exponential", "delay": 1000}, 500, 10 * 365 * 24 * 3600 * 1000),
    ],
)
def test_backoff_policy_table(backoff, attempts_made, expected_ms):
    assert backoff_delay_ms(backoff, attempts_made) == expected_ms


@pytest.mark.parametrize(
    ("priority", "level"),
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 5),
        (9, 5),
        (10, 6),
        (99, 6),
        (100, 7),
        (999, 7),
        (1000, 8),
        (9999, 8),
        (10_000, 9),
        (2_097_152, 9),
    ],
)
def test_broker_priority_table(priority, level):
    assert broker_priority(priority) == level


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (True, (True, None, None)),
        (False, (False, None, None)),
        (None, (False, None, None)),
        (3, (False, 3, None)),
        ({"count": 2}, (False, 2, None)),
        ({"age": 60}, (False, None, 60)),
        ({"count": 2, "age": 60}, (False, 2, 60)),
    ],
)
def test_keep_rule_table(rule, expected):
    assert keep_rule(rule) == expected


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"attemps": 3}, "attemps"),
        ({"attempts": 0}, "options.attempts"),
        ({"attempts": "3"}, "options.attempts"),
        ({"attempts": True}, "options.attempts"),
        ({"backoff": -1}, "options.backoff"),
        ({"backoff": "fast"}, "options.backoff"),
        ({"backoff": {"type": "sideways", "delay": 5}}, "options.backoff.type"),
        ({"backoff": {"type": "fixed", "delay": -5}}, "options.backoff"),
        ({"backoff": {"type": "fixed", "every": 5}}, "options.backoff: unknown keys every"),
        ({"delay": -1}, "options.delay"),
        ({"delay": 1.5}, "options.delay"),
        ({"priority": -1}, "options.priority"),
        ({"priority": 2_097_153}, "options.priority"),
        ({"timeout": 0}, "options.timeout"),
        ({"jobId": ""}, "options.jobId"),
        ({"jobId": {"a": 1}}, "options.jobId"),
        ({"jobId": "x" * 256}, "options.jobId"),
        ({"removeOnComplete": -1}, "options.removeOnComplete"),
        ({"removeOnComplete": "yes"}, "options.removeOnComplete"),
        ({"removeOnFail": {"count": 1, "keep": 2}}, "options.removeOnFail: unknown keys keep"),
        ({"removeOnFail": {"age": -5}}, "options.removeOnFail.age"),
    ],
)
def test_bad_option_is_400_naming_it(api, options, named):
    res = api.post("/jobs/submit", {"name": "echo", "data": 1, "options": options}, format="json")
    assert res.status_code == 400
    body = res.json()
    assert named in body["message"] and named in body["errors"]["options"][0]
    assert Job.objects.count() == 0


def test_options_must_be_an_object(api):
    res = api.post("/jobs/submit", {"name": "echo", "data": 1, "options": [1]}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {"options": ["options: must be an object"]}


def test_options_are_merged_over_server_defaults(api):
    body = api.post(
        "/jobs/submit", {"name": "echo", "data": 1, "options": {"priority": 3}}, format="json"
    ).json()
    assert body["options"] == {"attempts": 1, "priority": 3}


def test_data_schema_error_is_400_with_the_path(api):
    res = api.post("/jobs/submit", {"name": "demo.progress", "data": {"steps": 0}}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"]["data"] == ["data.steps: 0 is less than the minimum of 1"]
    res = api.post("/jobs/submit", {"name": "http.request", "data": {"method": "GET"}}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"]["data"] == ["data: 'url' is a required property"]


def test_job_id_returns_the_first_job_with_200(api, owner, other_user):
    first = api.post(
        "/jobs/submit", {"name": "echo", "data": 1, "options": {"jobId": "order-17"}}, format="json"
    )
    again = api.post(
        "/jobs/submit", {"name": "echo", "data": 2, "options": {"jobId": "order-17"}}, format="json"
    )
    assert (first.status_code, again.status_code) == (201, 200)
    # BullMQ: the custom jobId is the job's id
    assert again.json()["jobId"] == first.json()["jobId"] == first.json()["id"] == "order-17"
    assert again.json()["data"] == 1
    # the key is per user
    theirs, created = submission.job_submit(
        owner=other_user, name="echo", data=3, options={"jobId": "order-17"}
    )
    assert created and theirs.public_id == "order-17"
    assert Job.objects.filter(idempotency_key="order-17").count() == 2


def test_delay_keeps_the_job_delayed_until_run_at(api):
    before = timezone.now()
    body = api.post(
        "/jobs/submit", {"name": "echo", "data": 1, "options": {"delay": 60000}}, format="json"
    ).json()
    job = Job.objects.get(pk=body["jobId"])
    assert body["state"] == job.state == "delayed"
    # due 60,000 ms after the submission instant (taken just before the row is saved)
    assert before <= job.run_at - timedelta(milliseconds=60000) <= job.created_at
    assert job.enqueued_at is None
    assert body["runAt"] == job.run_at.isoformat().replace("+00:00", "Z")
    # a message for it, had one been sent, would do nothing: only waiting jobs are claimed
    assert runtime.job_execute(job_id=job.pk) is None


def test_promoter_moves_only_due_delayed_jobs_and_returns_the_wait(owner):
    now = timezone.now()
    due, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"delay": 1000})
    later, _ = submission.job_submit(owner=owner, name="echo", data=2, options={"delay": 60000})
    wait = maintenance.jobs_promote_due(now=now + timedelta(seconds=2), cap=120.0)
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.state == "waiting" and due.enqueued_at == now + timedelta(seconds=2)
    assert later.state == "delayed"
    assert 55 < wait <= 60
    assert maintenance.jobs_promote_due(now=now + timedelta(seconds=2), cap=0.5) == 0.5


@pytest.mark.django_db(transaction=True)
def test_priority_is_stored_and_sent_as_a_broker_level(api, owner):
    import redis
    from django.conf import settings

    body = api.post(
        "/jobs/submit", {"name": "echo", "data": 1, "options": {"priority": 150}}, format="json"
    ).json()
    assert Job.objects.get(pk=body["jobId"]).priority == 150
    client = redis.Redis.from_url(settings.REDIS_URL)
    # kombu's Redis transport keeps one list per priority level: "jobs" for 0, "jobs\x06\x16<n>" otherwise
    assert client.llen("jobs\x06\x167") == 1 and client.llen("jobs") == 0, client.keys()
