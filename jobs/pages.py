"""Pages for people: the dashboard (``/``), the jobs list (``/app/jobs/``) and the new-job form
(``/app/jobs/new/``). Thin: read through owner-scoped querysets, write through ``jobs.services``.
The job detail page ``/app/jobs/<id>/`` belongs to the live-status views.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render

from scheduling.models import Schedule, ScheduleState

from . import handlers, selectors
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
