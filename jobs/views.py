"""Pages for people of the jobs app (server-rendered, owner only; thin: read through selectors and
owner-scoped querysets, write through the jobs services, ``jobs.submission`` and ``jobs.actions``):

* the dashboard (``/``), the jobs list (``/app/jobs/``, its bulk form :func:`job_bulk_page`) and the
  new-job form (``/app/jobs/new/``);
* the live status page (``/app/live/``) and the job detail page (``/app/jobs/<id>/``, its buttons post
  to :func:`job_action_page`): both render the current state from the database and hand over to
  ``static/js/live.js``, which keeps it current over ``/ws/jobs/`` (see :mod:`jobs.consumers`).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from scheduling.models import Schedule, ScheduleState

from . import handlers, selectors
from .actions import JobStateConflict
from .admin_ops import JOB_ACTIONS, job_apply, jobs_apply
from .forms import JobSubmitForm
from .models import Job, JobState

PAGE_SIZE = 20


@login_required
def dashboard_page(request):
    """GET /: the user's job counts by state (one GROUP BY), next fire times, recent failures."""
    counts = dict(Job.objects.owned_by(request.user).values_list("state").annotate(n=Count("id")).order_by())
    upcoming = (
        Schedule.objects.owned_by(request.user)
        .filter(state=ScheduleState.ACTIVE, next_fire_at__isnull=False)
        .order_by("next_fire_at")[:8]
    )
    failures = Job.objects.owned_by(request.user).filter(state=JobState.FAILED).order_by("-id")[:8]
    return render(
        request,
        "jobs/dashboard.html",
        {
            "counts": [(state, counts.get(state, 0)) for state in JobState.values],
            "total": sum(counts.values()),
            "upcoming": upcoming,
            "failures": failures,
        },
    )


@login_required
def job_list_page(request):
    """GET /app/jobs/ ``?state&name&page``: the user's jobs, newest first, 20 a page."""
    state = request.GET.get("state") or ""
    state = state if state in JobState.values else ""
    name = request.GET.get("name") or ""
    qs = selectors.job_list(user=request.user, state=state or None, name=name or None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = "".join(f"{k}={v}&" for k, v in (("state", state), ("name", name)) if v)
    return render(
        request,
        "jobs/job_list.html",
        {
            "page": page,
            "state": state,
            "name": name,
            "states": JobState.values,
            "handler_names": handlers.names(),
            "query": query,
            "bulk_actions": list(JOB_ACTIONS.values()),
        },
    )


@login_required
def job_new_page(request):
    """GET/POST /app/jobs/new/: submit through ``job_submit``, then go to the job's live page."""
    form = JobSubmitForm(request.POST if request.method == "POST" else None, initial={"data": {}})
    if request.method == "POST" and form.is_valid():
        job = form.submit(owner=request.user)
        if job is not None:
            messages.success(request, f"Job #{job.pk} submitted.")
            return redirect(f"/app/jobs/{job.pk}/")
    return render(
        request,
        "jobs/job_new.html",
        {
            "form": form,
            "handlers": [
                {
                    "name": h.name,
                    "description": h.description,
                    "schema": json.dumps(h.schema, indent=2) if h.schema else "",
                }
                for h in handlers.all_handlers()
            ],
        },
    )


@login_required
@require_POST
def job_action_page(request, job_id: int, action: str):
    """POST /app/jobs/<id>/{cancel,retry,delete,promote}/: the API's service, its 409 text as the message.

    Back to the job's page (to the jobs list after a delete); another user's job is a 404.
    """
    if action not in JOB_ACTIONS:
        raise Http404
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        messages.success(request, job_apply(action, job))
    except JobStateConflict as exc:
        messages.error(request, str(exc))
    if action == "delete" and not Job.objects.filter(pk=job.pk).exists():
        return redirect("job-list-page")
    return redirect("job-detail", job_id=job.pk)


def report_bulk(request, action: str, done: int, refusals: list[str]) -> None:
    """One message for a bulk action: how many were done, and why the others were refused."""
    messages.success(request, f"{done} job(s) {JOB_ACTIONS[action].done}.")
    if refusals:
        shown = "; ".join(refusals[:3]) + ("; …" if len(refusals) > 3 else "")
        messages.warning(request, f"{len(refusals)} job(s) left as they were: {shown}")


def selected_ids(request) -> list[int]:
    """The job ids ticked in a bulk form (``job`` checkboxes); anything that is not an id is dropped."""
    return [int(v) for v in request.POST.getlist("job") if v.isascii() and v.isdigit()][:1000]


@login_required
@require_POST
def job_bulk_page(request):
    """POST /app/jobs/bulk/ ``action`` + ``job`` (ids): one action on each selected job of yours.

    Ids of other users' jobs select nothing. Goes back to ``next`` (a local URL) or the jobs list.
    """
    action = request.POST.get("action", "")
    if action not in JOB_ACTIONS:
        messages.error(request, f"action: must be one of {', '.join(JOB_ACTIONS)}")
    else:
        ids = selected_ids(request)
        if not ids:
            messages.error(request, "Select at least one job.")
        else:
            jobs = Job.objects.owned_by(request.user).filter(pk__in=ids).order_by("pk")
            report_bulk(request, action, *jobs_apply(action, jobs))
    back = request.POST.get("next", "")
    if back.startswith("/app/jobs/") and url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        return redirect(back)
    return redirect("job-list-page")


# --- live status and job detail (issue 7) -----------------------------------------------------------

# How many of the user's most recent jobs the live page lists (newer ones are added as they arrive).
LIVE_PAGE_JOBS = 20


def live_percent(progress, state: str) -> int:
    """The bar's width 0-100 for a job's ``progress`` (a number, or an object with ``percent``).

    A completed job shows a full bar even if its handler never reported progress. live.js has the
    same rule (``percentOf``) for values that arrive later.
    """
    if state == "completed":
        return 100
    if isinstance(progress, dict):
        progress = progress.get("percent")
    if isinstance(progress, bool) or not isinstance(progress, int | float):
        return 0
    return max(0, min(100, round(progress)))


def _for_page(job):
    job.live_percent = live_percent(job.progress, job.state)
    job.result_json = "—" if job.result is None else json.dumps(job.result, indent=2)
    job.data_json = json.dumps(job.data, indent=2)
    job.options_json = json.dumps(job.options, indent=2)
    return job


def job_page_context(job, *, action_base: str) -> dict:
    """What ``jobs/_job_detail.html`` needs for ``job``: the job, its attempts with parsed times, the
    action buttons its state offers, and where they post (``action_base`` + ``<action>/``)."""
    from django.utils.dateparse import parse_datetime

    from .admin_ops import actions_for

    attempts = [
        {**entry, "started": parse_datetime(entry.get("startedAt") or ""), "finished": parse_datetime(
            entry.get("finishedAt") or "")}
        for entry in reversed(job.attempt_history or [])
        if isinstance(entry, dict)
    ]
    return {
        "job": _for_page(job),
        "attempts": attempts,
        "job_actions": actions_for(job),
        "action_base": action_base,
        "max_attempts": int((job.options or {}).get("attempts", 1) or 1),
    }


@login_required
def live_page(request):
    """GET /app/live/: the user's recent jobs with progress, state and the selected job's output."""
    jobs = [_for_page(job) for job in selectors.job_list(user=request.user)[:LIVE_PAGE_JOBS]]
    return render(request, "jobs/live.html", {"jobs": jobs, "selected": jobs[0] if jobs else None})


@login_required
def job_detail_page(request, job_id: str):
    """GET /app/jobs/<id>/ (numeric, custom or ``repeat:`` id, :mod:`jobs.ids`): one job (state, times,
    actions, failure with stack trace, attempts, output, logs, data, options, result), kept current
    over the websocket; 404 if not yours."""
    job = selectors.job_get(user=request.user, job_id=job_id)
    context = job_page_context(job, action_base=f"/app/jobs/{job.pk}/")
    return render(request, "jobs/job_detail_live.html", context)
