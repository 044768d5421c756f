"""Schedule pages under ``/app/schedules/``. Thin: parse the form, call a service or selector, render.

Every read goes through ``scheduling.selectors`` (scoped to the signed-in user: another user's
schedule is a 404); every write through ``scheduling.services`` via :mod:`scheduling.forms`.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.templatetags.viewer_time import when, when_in
from jobs import handlers

from . import selectors, services, timing
from .api.serializers import schedule_to_dict
from .forms import SchedulePageForm, initial_from_schedule
from .models import Schedule, ScheduleKind

PAGE_SIZE = 20


def own_zone(row: Schedule) -> str | None:
    """The zone a schedule's times are computed in, where it matters (cron); pages show times in the
    viewer's zone and add this one when it differs (``when_in``)."""
    return row.time_zone if row.kind == ScheduleKind.CRON else None


def page_description(row: Schedule):
    """The human text of a schedule for pages: the API's ``description``, except that a one-time
    schedule's instant is shown like every other time (viewer's zone, UTC on hover), not as ISO."""
    if row.kind == ScheduleKind.AT and row.at is not None:
        return format_html("Once at {}", when(row.at))
    return timing.describe(row)


def _form_context(form: SchedulePageForm, **extra) -> dict:
    return {
        "form": form,
        "handlers": handlers.all_handlers(),
        **extra,
    }


@login_required
def schedule_list_page(request):
    """GET /app/schedules/: the user's schedules (description, zone, next/last fire, state), paginated."""
    page = Paginator(selectors.schedule_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"row": row, "description": page_description(row), "zone": own_zone(row)} for row in page]
    return render(request, "scheduling/schedule_list.html", {"page": page, "rows": rows})


@login_required
def schedule_new_page(request):
    """GET/POST /app/schedules/new/: create via ``services.schedule_create``; ``?from=`` seeds the preview."""
    if request.method == "POST":
        form = SchedulePageForm(request.POST)
        if form.is_valid():
            row = form.save_through_service(owner=request.user)
            if row is not None:
                messages.success(request, f"Schedule {row.scheduler_id} created.")
                return redirect("schedule-detail-page", scheduler_id=row.scheduler_id)
    else:
        form = SchedulePageForm(
            initial={
                "preview_from": request.GET.get("from", ""),
                "every_unit": "s",
                "data": {},
                "time_zone": request.viewer_time_zone.key,
            }
        )
    return render(request, "scheduling/schedule_form.html", _form_context(form, title="New schedule"))


@login_required
def schedule_edit_page(request, scheduler_id: str):
    """GET/POST /app/schedules/<id>/edit/: replace the definition through ``services.schedule_replace``."""
    row = selectors.schedule_get(user=request.user, scheduler_id=scheduler_id)
    if request.method == "POST":
        form = SchedulePageForm(request.POST)
        if form.is_valid():
            saved = form.save_through_service(owner=request.user, instance=row)
            if saved is not None:
                messages.success(request, f"Schedule {saved.scheduler_id} saved.")
                return redirect("schedule-detail-page", scheduler_id=saved.scheduler_id)
    else:
        form = SchedulePageForm(initial=initial_from_schedule(row))
    return render(
        request,
        "scheduling/schedule_form.html",
        _form_context(form, title=f"Edit schedule {row.scheduler_id}", schedule=row),
    )


@login_required
def schedule_detail_page(request, scheduler_id: str):
    """GET /app/schedules/<id>/: definition, next fire times, run history (its jobs, paginated), buttons."""
    row = selectors.schedule_get(user=request.user, scheduler_id=scheduler_id)
    body = schedule_to_dict(row)
    jobs = Paginator(row.jobs.order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    upcoming = body["upcoming"]
    return render(
        request,
        "scheduling/schedule_detail.html",
        {
            "schedule": row,
            "description": page_description(row),
            "zone": own_zone(row),
            "next": [parse_datetime(t) for t in upcoming],
            "spec_json": json.dumps(body["schedule"], indent=2),
            "data_json": json.dumps(row.data, indent=2),
            "options_json": json.dumps(row.options, indent=2),
            "jobs": jobs,
        },
    )


# The fields that make up the schedule itself: the preview runs only when none of them has an error.
_CADENCE_FIELDS = ("kind", "cron_expression", "time_zone", "immediately", "every", "every_unit", "offset",
                   "at", "start_at", "end_at", "limit", "overlap", "preview_from")


@login_required
@require_POST
def schedule_preview_page(request):
    """POST /app/schedules/preview/ with the page form's fields (as the browser posts them) →
    ``{"description": html, "times": [html, ...], "errors": {field | "__all__": [message, ...]}}``.

    The page's live preview: the same form as the submit (dates typed in the viewer's zone, the
    interval in its unit, errors in the form's words) and the same service as
    ``POST /jobs/schedule/preview`` and beat. Times are rendered like every time on the pages (viewer's
    zone, UTC on hover, the schedule's own zone beside them when it differs). Nothing is saved.
    """
    form = SchedulePageForm(request.POST)
    form.is_valid()
    body: dict = {"description": "", "times": []}
    if not any(field in form.errors for field in _CADENCE_FIELDS):
        try:
            count, after, now = services.preview_window(
                count=5, after=form.cleaned_data.get("preview_from") or None
            )
            when_fires = form.timing(now=now)
            preview = services.schedule_preview(schedule=when_fires, count=count, after=after)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            zone = when_fires.time_zone if when_fires.kind == ScheduleKind.CRON else None
            times = [parse_datetime(t) for t in preview["upcoming"]]
            body["times"] = [str(when_in(t, zone)) for t in times]
            at = when_fires.at
            body["description"] = str(format_html("Once at {}", when(at))) if at else preview["description"]
    body["errors"] = {field: list(errors) for field, errors in form.errors.items()}
    return JsonResponse(body)


ACTIONS = {
    "pause": (services.schedule_pause, "paused"),
    "resume": (services.schedule_resume, "resumed"),
    "trigger": (services.schedule_trigger, "triggered: one run now"),
    "delete": (services.schedule_delete, "deleted; the jobs it created are kept"),
}


@login_required
@require_POST
def schedule_action_page(request, scheduler_id: str, action: str):
    """POST /app/schedules/<id>/{pause,resume,trigger,delete}/: one service call, then back to the page."""
    if action not in ACTIONS:
        raise Http404
    row = selectors.schedule_get(user=request.user, scheduler_id=scheduler_id)
    service, done = ACTIONS[action]
    try:
        service(schedule=row)
    except services.ScheduleStateError as exc:
        messages.error(request, f"Schedule {row.scheduler_id}: {exc}")
    else:
        messages.success(request, f"Schedule {row.scheduler_id} {done}.")
    if action == "delete":
        return redirect("schedule-list-page")
    return redirect("schedule-detail-page", scheduler_id=row.scheduler_id)
