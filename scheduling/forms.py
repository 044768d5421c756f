"""Schedule forms for the pages and the admin. Both build the API's ``schedule`` object from their
fields and let ``scheduling.services`` validate and save it, so every rule (cron that never fires,
time zone, ``endDate`` after ``startDate``, minimum interval, unknown handler or option) is the
same rule, with the same message, as in the REST API. Service error keys (``schedule.cron``, ...)
are mapped back onto the form's fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.time_zone import time_zone_choices
from config.forms import add_service_errors
from jobs import named_queues
from jobs.forms import JSONInput, use_handler_picker

from . import services
from .models import Overlap, Schedule, ScheduleKind

DATETIME_WIDGET = forms.DateTimeInput(
    attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
)
EVERY_UNITS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def _iso(value) -> str | None:
    return services._iso(value)


_UNIT_WORDS = (("d", "day"), ("h", "hour"), ("min", "minute"), ("s", "second"), ("ms", "millisecond"))


def human_ms(ms: int) -> str:
    """``ms`` in the largest unit that divides it: 1000 → "1 second", 90000 → "90 seconds"."""
    for unit, word in _UNIT_WORDS:
        if ms % EVERY_UNITS[unit] == 0:
            n = ms // EVERY_UNITS[unit]
            return f"{n} {word}{'' if n == 1 else 's'}"
    return f"{ms} milliseconds"


class ScheduleDefinitionForm(forms.Form):
    """Fields shared by the page form and the admin form; subclasses say how ``every`` is entered."""

    # Where the service's error keys land; the interval field differs between page and admin.
    every_field = "every"

    # The same picker as the new-job form (jobs.forms.use_handler_picker, set in __init__).
    name = forms.CharField(max_length=200, label="Handler", help_text="The handler the schedule's jobs run.")
    # A field named like BaseForm.data: Django's form metaclass moves declared fields into base_fields.
    data: Any = JSONInput(
        required=False,
        help_text="JSON passed to the handler (any JSON value).",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    kind = forms.ChoiceField(
        choices=ScheduleKind.choices, initial=ScheduleKind.CRON, widget=forms.RadioSelect
    )
    cron_expression = forms.CharField(
        required=False,
        max_length=200,
        label="Cron expression",
        help_text="minute hour day-of-month month day-of-week, e.g. 30 2 * * *",
        widget=forms.TextInput(attrs={"placeholder": "*/15 * * * *", "autocomplete": "off"}),
    )
    # A CharField with a select widget: an unknown zone reaches the service and gets its message.
    time_zone = forms.CharField(
        required=False, initial="UTC", label="Time zone", widget=forms.Select(choices=time_zone_choices())
    )
    immediately = forms.BooleanField(
        required=False,
        label="Run once now too",
        help_text="One run as soon as it is saved, then the cron expression (BullMQ's immediately).",
    )
    offset = forms.IntegerField(
        required=False,
        label="Offset (ms)",
        help_text="Fire at this many ms past each multiple of the interval since 1970 (BullMQ's offset); "
        "empty: count the interval from when the schedule starts.",
    )
    at = forms.DateTimeField(required=False, label="Run once at", widget=DATETIME_WIDGET)
    start_at = forms.DateTimeField(required=False, label="Start", widget=DATETIME_WIDGET)
    end_at = forms.DateTimeField(required=False, label="End", widget=DATETIME_WIDGET)
    limit = forms.IntegerField(
        required=False, label="Limit (runs)", help_text="At most this many runs; empty = no limit."
    )
    overlap = forms.ChoiceField(
        choices=Overlap.choices,
        initial=Overlap.ALLOW,
        help_text="skip: do not start a run while the previous one is waiting or active.",
    )
    options = JSONInput(
        required=False,
        help_text='Job options, e.g. {"attempts": 3}.',
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # A CharField with a select widget: an undeclared name reaches the service and gets its message.
    queue = forms.CharField(
        required=False, max_length=64, label="Queue", help_text="The named queue its jobs run on."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        use_handler_picker(self)
        self.fields["queue"].widget = forms.Select(choices=[(n, n) for n in named_queues.declared()])
        self.fields["queue"].initial = named_queues.default()

    def clean(self):
        """The field the chosen kind needs, asked for in the form's words before the service sees it."""
        c = super().clean()
        needed = {
            ScheduleKind.CRON: ("cron_expression", "Enter a cron expression, e.g. 30 2 * * * (02:30 daily)."),
            ScheduleKind.EVERY: (self.every_field, "Enter how often it runs, e.g. every 30 seconds."),
            ScheduleKind.AT: ("at", "Enter when it runs."),
        }.get(c.get("kind"))
        if needed and c.get(needed[0]) in (None, "") and needed[0] not in self.errors:
            self.add_error(*needed)
        return c

    def service_message(self, key: str | None, message: str) -> str | None:
        """The interval's rule in the form's words ("At least 1 second"); other keys: ``form_words``."""
        if key == "schedule.endDate" and message.endswith("must be after startDate"):
            return "Must be after the start."
        if key != "schedule.repeat.every":
            return None
        every = self.interval_ms()
        minimum = settings.SCHEDULE_MIN_EVERY_MS
        if every is not None and not float(every).is_integer():
            return "Must be a whole number of milliseconds."
        if every is not None and every < minimum:
            return f"At least {human_ms(minimum)}."
        if every is not None and every > services.MAX_EVERY_MS:
            return f"At most {human_ms(services.MAX_EVERY_MS)}."
        return None

    def error_fields(self) -> dict[str, str | None]:
        """Service error key → form field (``None`` = a form-wide error)."""
        return {
            "name": "name",
            "data": "data",
            "options": "options",
            "schedulerId": "scheduler_id",
            "schedule.cron": "cron_expression",
            "schedule.tz": "time_zone",
            "schedule.repeat": self.every_field,
            "schedule.repeat.every": self.every_field,
            "schedule.offset": "offset",
            "schedule.immediately": "immediately",
            "schedule.at": "at",
            "schedule.startDate": "start_at",
            "schedule.endDate": "end_at",
            "schedule.limit": "limit",
            "schedule.overlap": "overlap",
            "queue": "queue",
            "schedule": None,
        }

    def interval_ms(self) -> Any:
        """The interval in milliseconds as entered (the admin's ``every_ms`` field)."""
        return self.cleaned_data.get(self.every_field)

    def schedule_spec(self) -> dict:
        """The API's ``schedule`` object for the cleaned fields (validated by the service, not here)."""
        c = self.cleaned_data
        kind = c.get("kind")
        spec: dict[str, Any]
        if kind == ScheduleKind.CRON:
            spec = {"cron": c.get("cron_expression") or "", "tz": c.get("time_zone") or "UTC"}
            if c.get("immediately"):
                spec["immediately"] = True
        elif kind == ScheduleKind.EVERY:
            spec = {"repeat": {"every": self.interval_ms()}}
            if c.get("offset") is not None:
                spec["repeat"]["offset"] = c["offset"]
        else:
            # No instant entered: leave `at` out and the service answers "give exactly one of ...".
            spec = {"at": _iso(c["at"])} if c.get("at") else {}
        if c.get("limit") is not None:
            if kind == ScheduleKind.EVERY:
                spec["repeat"]["limit"] = c["limit"]
            else:
                spec["limit"] = c["limit"]
        for key, field in (("startDate", "start_at"), ("endDate", "end_at")):
            if c.get(field):
                spec[key] = _iso(c[field])
        spec["overlap"] = c.get("overlap") or Overlap.ALLOW
        return spec

    def add_service_errors(self, exc: ValidationError) -> None:
        """Attach a service ``ValidationError`` to the fields its keys name (message text unchanged)."""
        add_service_errors(self, exc, self.error_fields())

    def save_through_service(self, *, owner, instance: Schedule | None = None) -> Schedule | None:
        """Create (``instance`` None) or replace the schedule via the services; ``None`` and field
        errors on the form if the service refuses it."""
        c = self.cleaned_data
        common = {
            "name": c.get("name"),
            "data": c.get("data"),
            "schedule": self.schedule_spec(),
            "options": c.get("options"),
            "queue": c.get("queue") or None,
        }
        try:
            if instance is None:
                return services.schedule_create(
                    owner=owner, scheduler_id=c.get("scheduler_id") or None, **common
                )
            row, _ = services.schedule_replace(
                owner=instance.owner, scheduler_id=instance.scheduler_id, **common
            )
            return row
        except ValidationError as exc:
            self.add_service_errors(exc)
        except services.ScheduleExists as exc:
            self.add_error("scheduler_id" if "scheduler_id" in self.fields else None, str(exc))
        return None


def initial_from_schedule(row: Schedule) -> dict:
    """Form initial values for a stored schedule (the inverse of ``schedule_spec``)."""
    initial = {
        "name": row.name,
        "data": row.data,
        "options": row.options or None,
        "kind": row.kind,
        "cron_expression": row.cron_expression,
        "time_zone": row.time_zone,
        "at": row.at,
        "start_at": row.start_at,
        "end_at": row.end_at,
        "limit": row.limit,
        "overlap": row.overlap,
        "queue": row.queue,
        "every_ms": row.every_ms,
        "offset": row.offset_ms,
    }
    if row.every_ms:
        unit = next(u for u in ("d", "h", "min", "s", "ms") if row.every_ms % EVERY_UNITS[u] == 0)
        initial["every"] = row.every_ms // EVERY_UNITS[unit]
        initial["every_unit"] = unit
    return initial


class SchedulePageForm(ScheduleDefinitionForm):
    """The page form: the interval is a number and a unit; ``preview_from`` only feeds the preview."""

    every = forms.DecimalField(required=False, min_value=None, label="Every", decimal_places=3)
    every_unit = forms.ChoiceField(
        choices=[("ms", "milliseconds"), ("s", "seconds"), ("min", "minutes"), ("h", "hours"), ("d", "days")],
        initial="s",
        required=False,
        label="Unit",
    )
    preview_from = forms.CharField(
        required=False,
        label="Preview from (UTC, ISO 8601)",
        help_text="Preview the fire times after this instant instead of now, e.g. 2028-03-24T12:00:00Z.",
    )

    def error_fields(self) -> dict[str, str | None]:
        return {**super().error_fields(), "from": "preview_from"}

    field_order = [
        "name",
        "data",
        "kind",
        "cron_expression",
        "time_zone",
        "immediately",
        "every",
        "every_unit",
        "offset",
        "at",
        "start_at",
        "end_at",
        "limit",
        "overlap",
        "options",
        "preview_from",
    ]

    def interval_ms(self) -> Any:
        every: Decimal | None = self.cleaned_data.get("every")
        if every is None:
            return None
        value = every * EVERY_UNITS.get(self.cleaned_data.get("every_unit") or "s", 1000)
        # A whole number of ms goes to the service as an int; anything else is refused there.
        return int(value) if value == value.to_integral_value() else float(value)
