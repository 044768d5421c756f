"""Django admin for schedules. The add/change form validates and saves through ``scheduling.services``
(the same rules and messages as the API and the pages); actions pause, resume, trigger now and
duplicate call the services too. django-celery-beat's own admin pages are removed: a
``PeriodicTask`` is only the projection of its ``Schedule`` and is never edited by hand.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import ValidationError
from django_celery_beat import models as beat_models

from accounts.admin import OwnerScopedAdminMixin, ServiceSavedAdminMixin
from accounts.templatetags.viewer_time import when
from jobs.forms import use_handler_picker

from . import services, timing
from .forms import ScheduleDefinitionForm
from .models import Schedule

for _model in (
    beat_models.PeriodicTask,
    beat_models.IntervalSchedule,
    beat_models.CrontabSchedule,
    beat_models.SolarSchedule,
    beat_models.ClockedSchedule,
):
    try:
        admin.site.unregister(_model)
    except NotRegistered:
        pass


class ScheduleAdminForm(ScheduleDefinitionForm, forms.ModelForm):
    """The shared schedule fields plus ``owner``, ``scheduler_id`` and the interval in ms.

    ``clean()`` calls ``schedule_create`` / ``schedule_replace``: the service is the validation,
    and its error keys land on these fields. Django's own model validation is skipped because the
    service already validated and saved the row (admin wraps the request in one transaction).
    """

    every_field = "every_ms"
    every_ms = forms.IntegerField(required=False, label="Every (ms)", help_text="Interval in milliseconds.")
    scheduler_id = forms.CharField(
        required=False, max_length=200, label="Scheduler id", help_text="Blank: a new opaque id."
    )

    class Meta:
        model = Schedule
        fields = ["owner"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved_row: Schedule | None = None
        if self.instance.pk:
            from .forms import initial_from_schedule

            for key, value in initial_from_schedule(self.instance).items():
                if key in self.fields:
                    self.initial[key] = value
            self.initial["scheduler_id"] = self.instance.scheduler_id
            use_handler_picker(self)  # again, now that the stored handler is known

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.instance.pk:
            self.saved_row = self.save_through_service(owner=self.instance.owner, instance=self.instance)
        else:
            self.saved_row = self.save_through_service(owner=cleaned.get("owner"))
        return cleaned

    def _post_clean(self):
        # The service validated (and saved) the schedule; copying fields onto self.instance and
        # re-validating it here would only repeat, or contradict, the service's rules.
        pass


@admin.register(Schedule)
class ScheduleAdmin(OwnerScopedAdminMixin, ServiceSavedAdminMixin, admin.ModelAdmin):
    form = ScheduleAdminForm
    list_display = (
        "scheduler_id",
        "name",
        "owner",
        "kind",
        "description",
        "next_run",
        "state",
        "run_count",
    )
    list_filter = (
        "state", "kind", "queue", "overlap", "time_zone", ("owner", admin.RelatedOnlyFieldListFilter)
    )
    search_fields = ("scheduler_id", "name", "cron_expression", "owner__username")
    list_select_related = ("owner",)
    actions = ("pause_schedules", "resume_schedules", "trigger_schedules", "duplicate_schedules")
    fieldsets = (
        (None, {"fields": ("owner", "scheduler_id", "name", "queue", "data", "options")}),
        (
            "When",
            {
                "fields": (
                    "kind",
                    "cron_expression",
                    "time_zone",
                    "immediately",
                    "every_ms",
                    "offset",
                    "at",
                    "start_at",
                    "end_at",
                    "limit",
                    "overlap",
                )
            },
        ),
        (
            "State",
            {"fields": ("state", "run_count", "last_run_at", "next_fire_at", "created_at", "updated_at")},
        ),
    )
    readonly_fields = ("state", "run_count", "last_run_at", "next_fire_at", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # Owner and id are fixed once created (the id is what API clients address).
        return self.readonly_fields + (("owner", "scheduler_id") if obj is not None else ())

    @admin.display(description="When")
    def description(self, obj: Schedule) -> str:
        return timing.describe(obj)

    @admin.display(description="Next fire", ordering="next_fire_at")
    def next_run(self, obj: Schedule):
        return when(obj.next_fire_at)

    def delete_row(self, obj) -> None:
        services.schedule_delete(schedule=obj)

    def _each(self, request, queryset, service, verb: str) -> None:
        done = 0
        for row in queryset:
            try:
                service(row)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{row.scheduler_id}: {'; '.join(exc.messages)}", messages.WARNING)
            except services.ScheduleStateError as exc:
                self.message_user(request, f"{row.scheduler_id}: {exc}", messages.WARNING)
        self.message_user(request, f"{done} schedule(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Pause selected schedules")
    def pause_schedules(self, request, queryset):
        self._each(request, queryset, lambda row: services.schedule_pause(schedule=row), "paused")

    @admin.action(description="Resume selected schedules")
    def resume_schedules(self, request, queryset):
        self._each(request, queryset, lambda row: services.schedule_resume(schedule=row), "resumed")

    @admin.action(description="Trigger selected schedules now (one run each)")
    def trigger_schedules(self, request, queryset):
        self._each(request, queryset, lambda row: services.schedule_trigger(schedule=row), "triggered")

    @admin.action(description="Duplicate selected schedules")
    def duplicate_schedules(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda row: services.schedule_create(
                owner=row.owner,
                name=row.name,
                data=row.data,
                schedule=services.spec_of(row),
                options=row.options,
                queue=row.queue,
            ),
            "duplicated",
        )
