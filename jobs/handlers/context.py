"""What a handler gets besides its data (:class:`JobContext`): progress, deltas, logs, cancellation."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat

from ..models import Job
from ..realtime import publish_job_event
from .exceptions import JobCancelled

logger = logging.getLogger(__name__)


class JobContext:
    """What a handler gets besides its data: report progress, stream deltas, log, see cancellation.

    Deltas and log lines are published at once as events and stored in batches (at most every
    ``JOB_FLUSH_EVERY_S`` and when the job ends), so a chatty handler costs O(total output), not a
    rewrite of the whole column per call. Stored output is bounded by ``JOB_MAX_OUTPUT_BYTES`` and
    ``JOB_MAX_LOG_LINES``; events are not.
    """

    def __init__(self, job: Job):
        self.job = job
        if not isinstance(job.logs, list):
            job.logs = []
        self._lock = threading.Lock()
        self._pending_output: list[str] = []
        self._output_bytes = len((job.output or "").encode())
        self._logs_dirty = False
        self._dropped_lines = 0
        self._last_flush = time.monotonic()
        self._attempt = job.attempts_made

    def progress(self, value: Any) -> None:
        """Record progress: a number 0-100 or a JSON object; published as a ``progress`` event.

        Raises ``ValueError`` for anything else (the job then fails with that reason).
        """
        if isinstance(value, bool) or not (
            (isinstance(value, int | float) and 0 <= value <= 100) or isinstance(value, dict)
        ):
            raise ValueError(f"progress: must be a number 0-100 or a JSON object, not {value!r}"[:200])
        if isinstance(value, dict):
            json.dumps(value)
        Job.objects.filter(pk=self.job.pk).update(progress=value)
        self.job.progress = value
        publish_job_event(self.job, "progress", progress=value)

    def delta(self, text: str) -> None:
        """Append streamed partial output; published in order as ``delta`` events, stored in order."""
        text = str(text)
        with self._lock:
            size = len(text.encode())
            if self._output_bytes + size <= settings.JOB_MAX_OUTPUT_BYTES:
                self._pending_output.append(text)
                self._output_bytes += size
        publish_job_event(self.job, "delta", content=text)
        self._maybe_flush()

    def log(self, line: str) -> None:
        """Append a log line to the job (at most ``JOB_MAX_LOG_LINES`` are kept; later ones are counted)."""
        with self._lock:
            if len(self.job.logs) < settings.JOB_MAX_LOG_LINES:
                self.job.logs.append(str(line))
            else:
                self._dropped_lines += 1
            self._logs_dirty = True
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= settings.JOB_FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Store buffered deltas and log lines now (the worker calls it when the job ends)."""
        with self._lock:
            output = "".join(self._pending_output)
            self._pending_output.clear()
            logs = None
            if self._logs_dirty:
                logs = list(self.job.logs)
                if self._dropped_lines:
                    logs.append(f"... {self._dropped_lines} more line(s) not stored (JOB_MAX_LOG_LINES)")
                self._logs_dirty = False
            self._last_flush = time.monotonic()
        fields: dict[str, Any] = {}
        if output:
            fields["output"] = Concat(F("output"), Value(output))
        if logs is not None:
            fields["logs"] = logs
        if fields:
            Job.objects.filter(
                pk=self.job.pk, attempts_made=self._attempt, stalled_count=self.job.stalled_count
            ).update(**fields)

    def children_values(self) -> dict[str, Any]:
        """A flow's parent: ``{<child job id>: result}`` of its completed children (BullMQ's
        ``getChildrenValues``; the key is the child's ``jobId``). ``{}`` for a job without children.
        One query. docs/flows.md."""
        from ..dependencies import children_values

        return children_values(self.job)

    def ignored_failures(self) -> dict[str, str]:
        """A flow's parent: ``{<child job id>: failed reason}`` of the children whose failure counted
        as done under ``ignoreDependencyOnFailure`` (BullMQ's ``getIgnoredChildrenFailures``)."""
        from ..dependencies import ignored_failures

        return ignored_failures(self.job)

    @property
    def cancelled(self) -> bool:
        """Whether the owner asked to cancel this job, or deleted it (a flow deleted while it runs,
        docs/flows.md): one indexed read."""
        return not Job.objects.filter(pk=self.job.pk, cancel_requested=False).exists()

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled; handlers call it between steps."""
        if self.cancelled:
            raise JobCancelled()
