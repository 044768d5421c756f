"""A worker that meets a transient database error retries the message at once (issue 13, item 1):
the job must not wait for the reconciler (``JOB_REQUEUE_WAITING_AFTER_S``, 300 s).

Real processes: a worker, no beat (so no reconciler runs), and a real outage. On PostgreSQL the
worker reaches the database through a TCP relay of this test that refuses connections for a while
(the worker cannot connect, as with "too many clients"); on SQLite the test holds the database's
write lock while the worker's busy timeout (1 s here) runs out ("database is locked").
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from contextlib import contextmanager

import pytest
from django.db import connection

from jobs.models import Job, JobState
from jobs.tasks import run_job
from tests.conftest import _database_url, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Relay:
    """A TCP relay to ``(host, port)`` on a free local port; while ``refusing``, it closes every new
    connection at once (the client sees the server hang up during the handshake)."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.refusing = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                self.refused += 1
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@contextmanager
def worker_during_outage():
    """Start a worker whose database is unavailable; yields ``(worker, end_outage)``."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        worker = start_worker(name="outage-worker", concurrency=1, SQLITE_BUSY_TIMEOUT_S="1")
        # BEGIN EXCLUSIVE: no other connection may write (nor read, in WAL mode it may read) until we end it.
        holder = sqlite3.connect(settings_dict["NAME"], isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield worker, lambda: holder.execute("COMMIT")
        finally:
            if holder.in_transaction:
                holder.execute("COMMIT")
            holder.close()
            worker.stop()
        return
    relay = Relay(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    relay.refusing = True
    url = _database_url().replace(f":{settings_dict['PORT'] or 5432}/", f":{relay.port}/")
    worker = start_worker(name="outage-worker", concurrency=1, DATABASE_URL=url)
    try:
        yield worker, lambda: setattr(relay, "refusing", False)
    finally:
        worker.stop()
        relay.close()


def test_job_whose_worker_cannot_reach_the_database_runs_once_it_can(owner):
    job = Job.objects.create(owner=owner, name="echo", data={"n": 1}, options={"attempts": 1})
    with worker_during_outage() as (worker, end_outage):
        run_job.apply_async(args=[job.pk])
        # The worker met the error and scheduled a retry of the same message instead of dropping it.
        assert wait_until(lambda: "Retry in" in worker.output(), 60), worker.output()[-3000:]
        job.refresh_from_db()
        assert (job.state, job.attempts_made) == (JobState.WAITING, 0)
        end_outage()
        assert wait_until(lambda: Job.objects.filter(pk=job.pk, state="completed").exists(), 60), (
            worker.output()[-3000:]
        )
    job.refresh_from_db()
    assert (job.state, job.attempts_made, job.result) == ("completed", 1, {"n": 1})
