"""Log records that say which request, job or schedule they belong to; JSON lines when LOG_FORMAT=json.

- ``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` (if it is a sane token) or makes one,
  keeps it for the request's log records and returns it in the response header, so a 500 answer
  can be matched to its logged traceback.
- Celery's ``task_prerun``/``task_postrun`` signals set the ids a task declares it works on around it:
  a task names the argument that holds each (``@shared_task(log_context={"job_id": "job_id"})``,
  :func:`task_log_context`), and binds what only its work finds out (a job's ``schedulerId``, the
  ``schedulerId`` of a schedule addressed by its key) with :func:`bind_log_context`. Nothing here
  knows a task by name or reads the database. :func:`log_context` does the same for a block.
- ``ContextFilter`` copies these onto every record (``request_id``, ``job_id``, ``schedule_id``,
  ``task_id``; ``None`` outside one); ``JsonFormatter`` (python-json-logger) prints one JSON object per
  line with them. In a worker with LOG_FORMAT=json, Celery is kept from replacing these handlers.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from celery import signals
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
schedule_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("schedule_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CONTEXT = {
    "request_id": request_id_var,
    "job_id": job_id_var,
    "schedule_id": schedule_id_var,
    "task_id": task_id_var,
}


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``job_id``, ``schedule_id`` and ``task_id`` to every record (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        if getattr(record, "request_id", None) is None:
            # django.request logs a 4xx/5xx after the middleware chain has returned; it passes the request.
            record.request_id = getattr(getattr(record, "request", None), "request_id", None)
        return True


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line: ``{time, level, logger, message, request_id, job_id, schedule_id, ...}``;
    ``time`` is ISO 8601 UTC with milliseconds."""

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return (
            datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt",
            "%(asctime)s %(levelname)s %(name)s %(message)s "
            "%(request_id)s %(job_id)s %(schedule_id)s %(task_id)s",
        )
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)


def _request_id(request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request id for the request's log records and echoes it in ``X-Request-ID``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        request.request_id = _request_id(request)
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id_var.get()
            return response
        finally:
            request_id_var.reset(token)

    async def __acall__(self, request):
        request.request_id = _request_id(request)
        token = request_id_var.set(request.request_id)
        try:
            response = await self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id_var.get()
            return response
        finally:
            request_id_var.reset(token)


# --- Celery: ids of the job / schedule a task works on --------------------------------------------------
def task_log_context(task, args, kwargs) -> dict[str, str | None]:
    """The log fields a task declares, read from its own arguments: ``{field: value as str}``.

    A task declares them with the task option ``log_context={field: argument name}`` (Celery keeps
    unknown options as attributes of the task class), e.g. ``log_context={"job_id": "job_id"}`` on
    ``jobs.tasks.run_job``; ``field`` is one of ``job_id`` and ``schedule_id``. A task without one
    (or an argument it was not given) contributes ``None``."""
    declared: dict[str, str] = getattr(task, "log_context", None) or {}
    if not declared:
        return {}
    given = inspect.signature(task.run).bind_partial(*(args or []), **(kwargs or {})).arguments
    return {field: None if given.get(arg) is None else str(given[arg]) for field, arg in declared.items()}


_task_tokens: dict[str, list] = {}


@contextlib.contextmanager
def log_context(*, schedule_id: str | None) -> Iterator[None]:
    """Tag the log records made inside the block with a schedule's string ``schedulerId`` (log field
    ``schedule_id``), e.g. while a fire addressed by the schedule's key runs; restored after it."""
    token = schedule_id_var.set(schedule_id)
    try:
        yield
    finally:
        schedule_id_var.reset(token)


def bind_log_context(*, job_id: int | str | None = None, schedule_id: str | None = None) -> None:
    """Tag the running task's further log records with the job it runs now and that job's or the
    schedule's string ``schedulerId`` (log field ``schedule_id``); reset when the task ends."""
    job_id_var.set(None if job_id is None else str(job_id))
    schedule_id_var.set(schedule_id)


@signals.task_prerun.connect(weak=False)
def _task_context_start(task_id=None, task=None, args=None, kwargs=None, **_):
    tokens = [(task_id_var, task_id_var.set(task_id))]
    try:
        fields = task_log_context(task, args, kwargs)
    except Exception:  # a log context must never fail a task
        fields = {}
    tokens.append((job_id_var, job_id_var.set(fields.get("job_id"))))
    tokens.append((schedule_id_var, schedule_id_var.set(fields.get("schedule_id"))))
    _task_tokens[task_id] = tokens


@signals.task_postrun.connect(weak=False)
def _task_context_end(task_id=None, **_):
    for var, token in reversed(_task_tokens.pop(task_id, [])):
        try:
            var.reset(token)
        except ValueError:  # set in another context (thread pools): clearing is enough
            var.set(None)


if os.environ.get("LOG_FORMAT", "").lower() == "json":

    @signals.setup_logging.connect(weak=False)
    def _keep_django_logging(**_):
        """A receiver here stops Celery from replacing Django's LOGGING handlers (and our JSON format)."""
