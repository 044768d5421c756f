"""``/admin/queues/``: the Bull Board counterpart inside Django admin (staff only).

Per queue (``jobs``, ``schedules``, ``webhooks``): job counts by state from the ``Job`` table (one
GROUP BY per queue; for ``webhooks`` the deliveries by state), the broker's backlog (Redis ``LLEN``
of the queue's lists) and the workers online (Celery ``inspect().ping()`` with a 1 s timeout).
Actions (POST): retry all failed jobs, delete finished jobs. A superuser sees and acts on every
user's jobs; other staff on their own.
"""

from __future__ import annotations

import logging

import redis
from django.contrib import admin, messages
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from config.celery import app as celery_app
from config.metrics import QUEUES, queue_depths
from config.redis_client import redis_client
from scheduling.models import Schedule
from webhooks.models import Delivery, DeliveryState

from . import admin_ops
from .models import Job, JobState

SHOWN_STATES = (
    JobState.WAITING,
    JobState.DELAYED,
    JobState.ACTIVE,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
)

logger = logging.getLogger(__name__)


def _visible_jobs(user):
    return Job.objects.all() if user.is_superuser else Job.objects.owned_by(user)


def _counts(qs) -> list[tuple[str, int]]:
    found = dict(qs.values_list("state").annotate(n=Count("id")).order_by())
    return [(state, found.get(state, 0)) for state in SHOWN_STATES]


def _delivery_counts(user) -> list[tuple[str, int]]:
    """Webhook deliveries by state (one GROUP BY), of every user's webhooks or only ``user``'s."""
    qs = Delivery.objects.all() if user.is_superuser else Delivery.objects.filter(webhook__owner=user)
    found = dict(qs.values_list("state").annotate(n=Count("id")).order_by())
    return [(state, found.get(state, 0)) for state in DeliveryState.values]


def _backlog() -> dict[str, int | None]:
    try:
        return queue_depths(redis_client(timeout_s=1.0))
    except redis.RedisError:
        logger.warning("queues page: Redis did not answer", exc_info=True)
        return dict.fromkeys(QUEUES)


def _workers() -> list[str] | None:
    try:
        replies = celery_app.control.inspect(timeout=1).ping() or {}
    except Exception:  # noqa: BLE001 - a broker outage shows as "unknown", not a 500
        logger.warning("queues page: Celery inspect failed", exc_info=True)
        return None
    return sorted(replies)


@require_http_methods(["GET", "POST"])
def queues_view(request):
    """GET: the board. POST ``action=retry_failed|clean_finished``: act on the visible jobs, redirect back."""
    jobs = _visible_jobs(request.user)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "retry_failed":
            n = admin_ops.jobs_retry_failed(jobs=jobs)
            messages.success(request, f"{n} failed job(s) put back to waiting.")
        elif action == "clean_finished":
            n = admin_ops.jobs_clean_finished(jobs=jobs)
            messages.success(request, f"{n} finished job(s) deleted.")
        else:
            messages.error(request, "Unknown action.")
        return redirect("admin-queues")
    schedules = (
        Schedule.objects.all() if request.user.is_superuser else Schedule.objects.owned_by(request.user)
    )
    backlog = _backlog()
    rows = [
        {"queue": "jobs", "what": "every job", "counts": _counts(jobs), "backlog": backlog["jobs"]},
        {
            "queue": "schedules",
            "what": "jobs created by schedules",
            "counts": _counts(jobs.filter(schedule__isnull=False)),
            "backlog": backlog["schedules"],
            "extra": dict(schedules.values_list("state").annotate(n=Count("id")).order_by()),
        },
        {
            "queue": "webhooks",
            "what": "webhook deliveries",
            "counts": None,
            "backlog": backlog["webhooks"],
            "deliveries": _delivery_counts(request.user),
        },
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Queues",
        "rows": rows,
        "states": SHOWN_STATES,
        "workers": _workers(),
        "scope": "all users" if request.user.is_superuser else f"your jobs ({request.user.username})",
    }
    return TemplateResponse(request, "admin/queues.html", context)
