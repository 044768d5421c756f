"""Every fire is handled on its own (issue 13, item 2): one fire's failure is recorded on its schedule
and never costs another fire its job; data is measured in the form the database stores it."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from jobs.models import Job
from jobs.submission import stored_size
from scheduling import firing, services
from scheduling.models import Schedule
from tests.conftest import start_beat, start_worker, wait_until

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def create(api, data, spec=None) -> Schedule:
    res = api.post(
        "/jobs/schedule", {"name": "echo", "data": data, "schedule": spec or {"every": 1000}}, format="json"
    )
    assert res.status_code == 201, res.json()
    return Schedule.objects.get(scheduler_id=res.json()["schedulerId"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", [[1e99], {"a": 1.5e300}, [1e16, 1e15], 0.1, 1e-7, 123.0, 10**20, "1e+99", [-2.5e+30], True]
)
def test_stored_size_is_the_size_the_database_gives_back(owner, value):
    job = Job.objects.create(owner=owner, name="echo", data=value)
    job.refresh_from_db()
    back = len(json.dumps(job.data, separators=(",", ":")).encode())
    if connection.vendor == "postgresql":
        assert stored_size(value) == back  # jsonb's numeric form, e.g. 1e99 as 100 digits
    else:
        assert stored_size(value) >= back  # SQLite keeps the text: the measure never undercounts


@pytest.mark.django_db
def test_data_that_grows_once_stored_is_refused_at_creation_naming_data(api, settings):
    settings.JOB_MAX_DATA_BYTES = 2000
    data = [1e99] * 30  # about 200 bytes as sent, 3,031 once stored as jsonb
    body = {"name": "echo", "data": data, "schedule": {"every": 1000}}
    res = api.post("/jobs/schedule", body, format="json")
    assert res.status_code in (400, 413), res.json()
    assert "data" in res.json()["errors"], res.json()
    assert not Schedule.objects.exists()
    good = create(api, {"n": 1})
    res = api.patch(f"/jobs/schedule/{good.scheduler_id}", {"data": data}, format="json")
    assert res.status_code in (400, 413), res.json()
    assert "data" in res.json()["errors"], res.json()


@pytest.mark.django_db
def test_a_fire_that_cannot_become_a_job_is_a_failed_job_and_the_batch_goes_on(api, other_api, settings):
    bad = create(api, {"n": 1})
    broken = create(api, {"n": 2})
    good = create(other_api, {"n": 3})
    # Rows stored before the stored-form check (or by hand): one too large, one with invalid options.
    Schedule.objects.filter(pk=bad.pk).update(data=[1e99] * 30)
    Schedule.objects.filter(pk=broken.pk).update(options={"attempts": "many"})
    settings.JOB_MAX_DATA_BYTES = 2000
    fires = [(bad.pk, T0), (good.pk, T0), (broken.pk, T0), (good.pk, T0 + timedelta(seconds=1))]
    assert services.schedules_fire(fires=fires) == 4
    assert services.schedules_fire(fires=fires) == 0  # a redelivered message changes nothing
    assert list(Job.objects.filter(schedule=good).values_list("state", flat=True)) == ["waiting", "waiting"]
    failed = Job.objects.get(schedule=bad)
    assert failed.state == "failed" and failed.data is None
    assert failed.failed_reason.startswith("fire failed: data: ")
    assert "larger than the limit of 2000 bytes" in failed.failed_reason
    assert Job.objects.get(schedule=broken).failed_reason.startswith("fire failed: options")
    # Visible in the schedule's history.
    res = api.get(f"/jobs/schedule/{bad.scheduler_id}/jobs")
    assert res.status_code == 200
    assert "fire failed" in json.dumps(res.json())


@pytest.mark.django_db
def test_an_unexpected_error_of_one_fire_is_recorded_on_it_alone(api, other_api, monkeypatch):
    """Any exception, not only validation: the one-by-one path (overlap: skip) records it on the fire."""
    victim = create(api, {"n": 1}, {"every": 1000, "overlap": "skip"})
    good = create(other_api, {"n": 2}, {"every": 1000, "overlap": "skip"})
    real = firing.job_submit

    def explode_for_victim(**kwargs):
        if kwargs["schedule"].pk == victim.pk:
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(firing, "job_submit", explode_for_victim)  # the single-fire path's
    assert services.schedules_fire(fires=[(victim.pk, T0), (good.pk, T0)]) == 2
    assert Job.objects.get(schedule=good).state == "waiting"
    assert Job.objects.get(schedule=victim).failed_reason == "fire failed: RuntimeError: disk on fire"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_real_beat_and_worker_a_bad_schedule_never_costs_another_users_fires(api, other_api):
    """The issue's case with real processes: one user's schedule whose data outgrew the limit in the
    database fires next to another user's every-second schedule; every fire of the good one is a job
    that completes, every fire of the bad one is a failed job on that schedule."""
    limit = {"JOB_MAX_DATA_BYTES": "2000"}
    bad = create(api, {"n": 1})
    good = create(other_api, {"n": 2})
    Schedule.objects.filter(pk=bad.pk).update(data=[1e99] * 30)
    beat = start_beat(name="isolation-beat", **limit)
    worker = start_worker(name="isolation-worker", **limit)
    try:
        assert wait_until(lambda: Job.objects.filter(schedule=good, state="completed").count() >= 4, 60), (
            worker.output()[-3000:], beat.output()[-3000:],
        )
        assert wait_until(lambda: Job.objects.filter(schedule=bad, state="failed").count() >= 2, 30)
        beat.stop()  # no new fires; the worker finishes the ones dispatched

        def settled():
            runs = dict(Schedule.objects.values_list("pk", "run_count"))
            return (
                Job.objects.filter(schedule=good, state="completed").count() == runs[good.pk]
                and Job.objects.filter(schedule=bad).count() == runs[bad.pk]
            )

        assert wait_until(settled, 30), worker.output()[-3000:]
    finally:
        beat.stop()
        worker.stop()
    assert not Job.objects.filter(schedule=good).exclude(state="completed").exists()
    reasons = Job.objects.filter(schedule=bad).values_list("failed_reason", flat=True)
    assert all(r.startswith("fire failed: data: ") for r in reasons)
