"""Pages of issue 7: the live status page and the job detail page (server-rendered, owner only).

Both render the current state from the database and hand over to ``static/js/live.js``, which keeps
it current over ``/ws/jobs/`` (see :mod:`jobs.consumers`).
"""

import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors

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
