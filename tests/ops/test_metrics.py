"""/metrics: the named Prometheus series, read after real jobs were queued and run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings

from config.metrics import LATENESS_KEY, observe_fire_lateness
from jobs.models import Job
from tests.conftest import start_beat, start_worker, wait_until


def _series(api) -> dict[str, float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in response.content.decode().splitlines()
        if line and not line.startswith("#")
    }


def test_queued_job_shows_in_job_counts_and_queue_depth(transactional_db, api):
    assert api.post("/jobs/submit", {"name": "echo", "data": {"n": 1}}, format="json").status_code == 201

    series = _series(api)

    assert series['jobserver_jobs{handler="echo",state="waiting"}'] == 1.0
    assert series['jobserver_queue_depth{queue="jobs"}'] == 1.0
    assert series['jobserver_queue_depth{queue="schedules"}'] == 0.0
    assert series['jobserver_queue_depth{queue="webhooks"}'] == 0.0
    assert series["jobserver_fire_lateness_seconds_count"] == 0.0


def test_queue_depth_counts_jobs_of_every_priority_level(transactional_db, api):
    # priority 0 → list "jobs", 1 → "jobs\x06\x161", 7 → "jobs\x06\x167" (kombu's steps are 0-9 here)
    for priority in (0, 1, 7):
        submitted = api.post(
            "/jobs/submit", {"name": "echo", "data": {}, "options": {"priority": priority}}, format="json"
        )
        assert submitted.status_code == 201, submitted.content

    assert _series(api)['jobserver_queue_depth{queue="jobs"}'] == 3.0


def test_fire_lateness_is_counted_once_per_job_in_cumulative_buckets(db, api):
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert observe_fire_lateness(job_id=1, seconds=0.3, client=client) is True
    assert observe_fire_lateness(job_id=1, seconds=0.3, client=client) is False  # redelivered message
    assert observe_fire_lateness(job_id=2, seconds=7.0, client=client) is True

    series = _series(api)

    assert series['jobserver_fire_lateness_seconds_bucket{le="0.25"}'] == 0.0
    assert series['jobserver_fire_lateness_seconds_bucket{le="0.5"}'] == 1.0
    assert series['jobserver_fire_lateness_seconds_bucket{le="5.0"}'] == 1.0
    assert series['jobserver_fire_lateness_seconds_bucket{le="10.0"}'] == 2.0
    assert series['jobserver_fire_lateness_seconds_bucket{le="+Inf"}'] == 2.0
    assert series["jobserver_fire_lateness_seconds_count"] == 2.0
    assert series["jobserver_fire_lateness_seconds_sum"] == 7.3
    assert client.hget(LATENESS_KEY, "count") == b"2"


@pytest.mark.e2e
def test_scheduled_run_is_measured_by_the_worker_and_logged_as_json(transactional_db, api):
    worker = start_worker(name="metrics-worker", LOG_FORMAT="json")
    beat = start_beat(name="metrics-beat")
    try:
        at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        created = api.post(
            "/jobs/schedule", {"name": "echo", "data": {"n": 2}, "schedule": {"at": at}}, format="json"
        )
        assert created.status_code == 201, created.content
        job = wait_until(lambda: Job.objects.filter(state="completed").first(), 30)
        assert job is not None, worker.output()[-3000:]
        series = wait_until(
            lambda: (s := _series(api))["jobserver_fire_lateness_seconds_count"] == 1.0 and s, 10
        )
    finally:
        beat.stop()
        worker.stop()

    assert series['jobserver_jobs{handler="echo",state="completed"}'] == 1.0
    assert series['jobserver_schedules{state="ended"}'] == 1.0
    assert series['jobserver_queue_depth{queue="jobs"}'] == 0.0
    lateness = (job.started_at - job.fire_at).total_seconds()
    assert series["jobserver_fire_lateness_seconds_sum"] == pytest.approx(lateness, abs=1e-6)
    records = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
    job_records = [r for r in records if r.get("job_id") == str(job.pk)]
    assert job_records, records[-5:]
    assert {"time", "level", "logger", "message", "task_id"} <= set(job_records[0])
    assert {r["schedule_id"] for r in job_records} == {created.json()["schedulerId"]}
