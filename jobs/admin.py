"""Django admin for jobs: filters by state, handler, owner and schedule; actions retry and cancel.

Staff who are not superusers see only their own jobs. Jobs are records of runs: they are created
by ``job_submit`` (API, pages, schedules), never typed into the admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.admin import OwnerScopedAdminMixin, ServiceSavedAdminMixin
from accounts.templatetags.viewer_time import SHORT, render_when

from . import admin_ops, named_queues, queue_control
from .actions import job_retry
from .models import Job, JobQueue


@admin.register(Job)
class JobAdmin(OwnerScopedAdminMixin, admin.ModelAdmin):
    # Narrow columns (issue 17): the list fits a 1280 px screen beside the filters.
    list_display = ("id", "name", "owner", "state", "schedule_id_column", "attempts", "created", "finished")
    list_filter = (
        "state",
        "queue",
        "name",
        ("owner", admin.RelatedOnlyFieldListFilter),
        ("schedule", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("=id", "name", "owner__username", "schedule__scheduler_id", "failed_reason")
    list_select_related = ("owner", "schedule")
    date_hierarchy = "created_at"
    actions = ("retry_jobs", "cancel_jobs")
    readonly_fields = [f.name for f in Job._meta.fields]

    @admin.display(description="schedule", ordering="schedule__scheduler_id")
    def schedule_id_column(self, obj: Job):
        return obj.schedule.scheduler_id if obj.schedule is not None else "—"

    @admin.display(description="attempts", ordering="attempts_made")
    def attempts(self, obj: Job) -> int:
        return obj.attempts_made

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Job):
        return render_when(obj.created_at, fmt=SHORT)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, obj: Job):
        return render_when(obj.finished_at, fmt=SHORT)

    def changelist_view(self, request, extra_context=None):
        # The list needs the width: the admin's model sidebar is folded away on this page only.
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # A job's page is read-only: saving it would write a stale copy over a worker's update.
        # Without ``obj`` (the list and its actions) the usual permission applies.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only finished jobs may be deleted (as DELETE /jobs/{id}); "Clean finished" does it in bulk.
        return (obj is None or obj.is_finished) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would delete waiting and active jobs too
        return actions

    @admin.action(description="Retry selected failed/cancelled jobs")
    def retry_jobs(self, request, queryset):
        done = sum(admin_ops.applied(job_retry, job) for job in queryset)
        self._report(request, done, len(queryset), "retried", "not failed or cancelled")

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        done = admin_ops.jobs_cancel(jobs=queryset)
        self._report(
            request, done, len(queryset), "cancelled (active ones asked to stop)", "already finished"
        )

    def _report(self, request, done: int, total: int, verb: str, why: str) -> None:
        self.message_user(request, f"{done} job(s) {verb}.", messages.SUCCESS)
        if total - done:
            self.message_user(request, f"{total - done} job(s) skipped: {why}.", messages.WARNING)


class JobQueueForm(forms.ModelForm):
    """A named queue's pause state and rate limit, saved through ``jobs.queue_control`` (its rules and
    messages: both limit fields or neither, 1..1,000,000 jobs per 1..600,000 ms)."""

    name = forms.ChoiceField(choices=[])

    class Meta:
        model = JobQueue
        fields = ["name", "paused", "limit_max", "limit_duration_ms"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved_row: JobQueue | None = None
        self.fields["name"].choices = [(n, n) for n in named_queues.declared()]
        if self.instance.pk:
            self.fields["name"].disabled = True

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        name = cleaned.get("name") or self.instance.name
        try:
            queue_control.queue_set_limit(
                name=name, limit_max=cleaned.get("limit_max"), duration_ms=cleaned.get("limit_duration_ms")
            )
            if cleaned.get("paused"):
                queue_control.queue_pause(name=name)
            else:
                queue_control.queue_resume(name=name)
            self.saved_row = JobQueue.objects.get(name=name)
        except ValidationError as exc:
            fields = {"max": "limit_max", "duration": "limit_duration_ms", "queue": "name"}
            for key, msgs in exc.message_dict.items():
                for msg in msgs:
                    self.add_error(fields.get(key), msg)
        return cleaned

    def _post_clean(self):
        # The services validated and saved the row; Django's own model validation would only repeat it.
        pass


@admin.register(JobQueue)
class JobQueueAdmin(ServiceSavedAdminMixin, admin.ModelAdmin):
    """Named queues (staff): pause, resume and rate limits, through the same services as the Queues
    board. Queues are shared by every user, so any staff member with the permission may change them."""

    form = JobQueueForm
    list_display = ("name", "paused", "limit_max", "limit_duration_ms", "updated_at")
    actions = ("pause_queues", "resume_queues")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a declared queue always has its state; undo a pause or a limit instead

    @admin.action(description="Pause selected queues")
    def pause_queues(self, request, queryset):
        for row in queryset:
            queue_control.queue_pause(name=row.name)
        self.message_user(request, f"{len(queryset)} queue(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume selected queues")
    def resume_queues(self, request, queryset):
        for row in queryset:
            queue_control.queue_resume(name=row.name)
        self.message_user(request, f"{len(queryset)} queue(s) resumed.", messages.SUCCESS)
