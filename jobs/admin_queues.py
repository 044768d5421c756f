"""The Queues board inside the Django admin (staff only): Bull Board's queues and jobs beside
Flower's workers.

- ``/admin/queues/``: every queue (``jobs.queues.queue_overview``) with its counts by state, the
  Redis backlog, the oldest waiting item's age, completed and failed per minute over the last hour
  (a uPlot chart), "retry all failed" and "clean finished" per queue and state; the workers
  (``/admin/queues/workers/``, loaded beside it: Celery's inspect answers take a second).
- ``/admin/queues/<queue>/?state=``: a queue's jobs by state, 50 a page, with the job actions
  (cancel, retry, delete, promote) on the ticked ones.
- ``/admin/queues/jobs/<id>/``: one job, as its owner's page shows it, with the same actions.

Pages refresh themselves every 2 s (``static/js/refresh.js`` in poll mode: the board spans every
user's jobs, which no one user's websocket carries; Bull Board polls too). A superuser sees and acts
on every user's jobs; other staff on their own (``jobs.queues.visible_jobs``). Every action goes
through the API's services (``jobs.admin_ops``).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import admin_ops, queue_control, queues
from .actions import JobStateConflict
from .models import FINISHED_STATES, JobState
from .views import job_page_context, report_bulk, selected_ids

BOARD_PAGE_SIZE = 50
REFRESH_MS = 2000


def _context(request, title: str, **extra) -> dict:
    return {
        **admin.site.each_context(request),
        "title": title,
        "scope": (
            "jobs of every user" if request.user.is_superuser else f"jobs of yours ({request.user.username})"
        ),
        "refresh_ms": REFRESH_MS,
        "is_nav_sidebar_enabled": False,  # the board needs the width (it fits 1280 px without it)
        **extra,
    }


def _control(request, queue: queues.Queue) -> None:
    """A named queue's pause, resume or limit (``jobs.queue_control``), as the board's message."""
    action = request.POST.get("action")
    try:
        if action == "pause":
            queue_control.queue_pause(name=queue.name)
            messages.success(request, f"{queue.name}: paused; waiting jobs wait, running ones finish.")
        elif action == "resume":
            queue_control.queue_resume(name=queue.name)
            messages.success(request, f"{queue.name}: resumed; its waiting jobs were published again.")
        else:
            state = queue_control.queue_set_limit(
                name=queue.name,
                limit_max=request.POST.get("max") or None,
                duration_ms=request.POST.get("duration") or None,
            )
            limit = state.limiter
            text = f"at most {limit['max']} jobs per {limit['duration']} ms" if limit else "no rate limit"
            messages.success(request, f"{queue.name}: {text}.")
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))


@require_http_methods(["GET", "POST"])
def queues_view(request):
    """GET: the board. POST ``action=retry_failed|clean_finished``, ``queue`` (default ``jobs``) and,
    for ``clean_finished``, ``state`` (one finished state; default all three): act on the visible
    jobs of that queue, then back to the board. For a named queue also ``action=pause|resume|limit``
    (``max`` and ``duration`` in ms; both empty removes the limit): queues are shared by every user,
    so any staff member may (the board is staff only)."""
    if request.method == "POST":
        queue = queues.queue_get(request.POST.get("queue") or "jobs")
        if queue.named and request.POST.get("action") in ("pause", "resume", "limit"):
            _control(request, queue)
            return redirect("admin-queues")
        jobs = queues.queue_jobs(request.user, queue)
        action = request.POST.get("action")
        if action == "retry_failed":
            n = admin_ops.jobs_retry_failed(jobs=jobs)
            messages.success(request, f"{queue.name}: {n} failed job(s) put back to waiting.")
        elif action == "clean_finished":
            state = request.POST.get("state") or ""
            if state and state not in FINISHED_STATES:
                messages.error(request, f"state: must be one of {', '.join(FINISHED_STATES)}")
            else:
                n = admin_ops.jobs_clean_finished(jobs=jobs, states=[state] if state else FINISHED_STATES)
                messages.success(request, f"{queue.name}: {n} {state or 'finished'} job(s) deleted.")
        else:
            messages.error(request, "action: must be retry_failed or clean_finished")
        return redirect("admin-queues")
    rows = queues.queue_overview(request.user)
    chart = {row["name"]: row["throughput"] for row in rows}
    context = _context(
        request,
        "Queues",
        rows=rows,
        chart_json=chart,
        finished_states=FINISHED_STATES,
    )
    return TemplateResponse(request, "admin/queues.html", context)


def workers_view(request):
    """GET /admin/queues/workers/: the workers part of the board (HTML fragment), each with its
    queues, pool size and the tasks it runs now with how long each has run."""
    context = _context(request, "Workers", workers=queues.workers_overview(request.user))
    return TemplateResponse(request, "admin/queues_workers.html", context)


def queue_jobs_view(request, queue_name: str):
    """GET /admin/queues/<queue>/ ``?state&page``: the queue's visible jobs, newest first, 50 a page."""
    queue = queues.queue_get(queue_name)
    if queue.kind != "jobs":
        raise Http404
    state = request.GET.get("state") or ""
    state = state if state in JobState.values or (queue.named and state == "paused") else ""
    rows = {row["name"]: row for row in queues.queue_overview(request.user, with_series=False)}
    page = Paginator(queues.queue_jobs(request.user, queue, state or None), BOARD_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = _context(
        request,
        f"Queue {queue.name}" + (f": {state}" if state else ""),
        queue=queue,
        row=rows[queue.name],
        state=state,
        page=page,
        query=f"state={state}&" if state else "",
        bulk_actions=list(admin_ops.JOB_ACTIONS.values()),
        finished_states=FINISHED_STATES,
    )
    return TemplateResponse(request, "admin/queue_jobs.html", context)


@require_POST
def queue_bulk_view(request, queue_name: str):
    """POST /admin/queues/<queue>/bulk/ ``action`` + ``job`` ids: one job action on each ticked job the
    user may see (ids of others' jobs select nothing); back to ``next`` on the board."""
    queue = queues.queue_get(queue_name)
    action = request.POST.get("action", "")
    if action not in admin_ops.JOB_ACTIONS:
        messages.error(request, f"action: must be one of {', '.join(admin_ops.JOB_ACTIONS)}")
    elif not selected_ids(request):
        messages.error(request, "Select at least one job.")
    else:
        jobs = queues.queue_jobs(request.user, queue).filter(pk__in=selected_ids(request)).order_by("pk")
        report_bulk(request, action, *admin_ops.jobs_apply(action, jobs))
    back = request.POST.get("next", "")
    if back.startswith("/admin/queues/"):
        return redirect(back)
    return redirect("admin-queue-jobs", queue_name=queue.name)


def board_job_view(request, job_id: int):
    """GET /admin/queues/jobs/<id>/: one visible job with its actions; 404 for a job the user may not see."""
    job = get_object_or_404(queues.visible_jobs(request.user).select_related("owner", "schedule"), pk=job_id)
    context = _context(
        request,
        f"{job.name} #{job.pk}",
        **job_page_context(job, action_base=reverse("admin-queues-job", args=[job.pk])),
        refresh_on="poll",
        owner_shown=True,
        board=True,
    )
    return TemplateResponse(request, "admin/queues_job.html", context)


@require_POST
def board_job_action_view(request, job_id: int, action: str):
    """POST /admin/queues/jobs/<id>/<action>/: one job action; the API's 409 text when refused."""
    if action not in admin_ops.JOB_ACTIONS:
        raise Http404
    job = get_object_or_404(queues.visible_jobs(request.user), pk=job_id)
    try:
        messages.success(request, admin_ops.job_apply(action, job))
    except JobStateConflict as exc:
        messages.error(request, str(exc))
    if not queues.visible_jobs(request.user).filter(pk=job.pk).exists():  # deleted
        return redirect("admin-queue-jobs", queue_name="jobs")
    return redirect("admin-queues-job", job_id=job.pk)
