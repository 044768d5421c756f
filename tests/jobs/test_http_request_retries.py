"""``http.request``: transient errors (DNS, connection) are retried with the job's backoff; only a
malformed or policy-refused URL fails the job at once."""

import socket

import pytest
from django.test import override_settings

from jobs import actions, runtime, submission

pytestmark = pytest.mark.django_db


def _run(owner, url, **options):
    job, _ = submission.job_submit(owner=owner, name="http.request", data={"url": url}, options=options)
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_a_host_that_does_not_resolve_is_retried_with_the_backoff(owner):
    job = _run(owner, "http://nowhere.invalid/ping", attempts=2, backoff={"type": "fixed", "delay": 60_000})
    assert (job.state, job.attempts_made) == ("delayed", 1)
    assert job.failed_reason.startswith("TargetUnresolved: url: host 'nowhere.invalid' does not resolve")
    actions.job_promote(job=job)
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.attempts_made) == ("failed", 2)
    assert [a["outcome"] for a in job.attempt_history] == ["failed", "failed"]


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)
def test_a_refused_connection_is_retried(owner):
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        job = _run(owner, f"http://127.0.0.1:{port}/", attempts=2)
    assert (job.state, job.attempts_made) == ("waiting", 1)
    assert "NewConnectionError" in job.failed_reason or "MaxRetryError" in job.failed_reason


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://example.com/x", "UnrecoverableError: url: only http and https URLs are allowed"),
        ("http://user:pw@example.com/", "UnrecoverableError: url: credentials in the URL are not allowed"),
        ("http://[::1/", "UnrecoverableError: url: not a valid URL"),
    ],
)
def test_a_malformed_or_refused_url_fails_at_once(owner, url, reason):
    job = _run(owner, url, attempts=3)
    assert (job.state, job.attempts_made, job.failed_reason) == ("failed", 1, reason)
