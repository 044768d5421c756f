"""Schedule forms for the pages and the admin. Both build the typed schedule definition from their
cleaned fields with ``scheduling.definition.definition_build`` (the rules the API's JSON goes through
too) and save it through ``scheduling.services``, so every rule (cron that never fires, time zone,
``endDate`` after ``startDate``, minimum interval, unknown handler or option) is the same rule, with
the same message, as in the REST API. An error lands on the form field named like the definition's
field it concerns (``DefinitionError.field``; :attr:`ScheduleDefinitionForm.field_names` lists the
few form fields named otherwise).
"""

from __future__ import annotations

from datetime import datetime
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
from .definition import (
    FIELD_OF_PATH,
    MAX_EVERY_MS,
    ScheduleDefinition,
    ScheduleTiming,
    definition_build,
    now_ms,
    timing_build,
)
from .models import Overlap, Schedule, ScheduleKind

DATETIME_WIDGET = forms.DateTimeInput(
    attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
)
EVERY_UNITS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


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

    # The form field that enters the interval: a number and a unit on the page, ms in the admin.
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
        if every is not None and every > MAX_EVERY_MS:
            return f"At most {human_ms(MAX_EVERY_MS)}."
        return None

    def field_names(self) -> dict[str, str]:
        """The definition's fields (and service keys) this form enters under another name."""
        return {"every_ms": self.every_field, "offset_ms": "offset", "schedulerId": "scheduler_id"}

    def error_fields(self) -> dict[str, str | None]:
        """Error key → form field: a key names a definition field (``FIELD_OF_PATH``, declared on the
        definition), which is the form field of that name unless :meth:`field_names` says otherwise;
        any other key (``schedule``) is a form-wide error."""
        names = self.field_names()
        keys = {**FIELD_OF_PATH, **{key: key for key in names}}
        return {key: names.get(name, name) for key, name in keys.items()}

    def interval_ms(self) -> Any:
        """The interval in milliseconds as entered (the admin's ``every_ms`` field)."""
        return self.cleaned_data.get(self.every_field)

    def timing(self, *, now: datetime) -> ScheduleTiming:
        """The cleaned fields as a :class:`ScheduleTiming` (``definition.timing_build``: the API's rules).

        Only the chosen kind's cadence fields count (a cron's zone and ``immediately``, an interval's
        offset). ``now``: aware UTC, the instant the definition is checked at. Raises ``DefinitionError``.
        """
        c = self.cleaned_data
        kind = c.get("kind")
        cron, every = kind == ScheduleKind.CRON, kind == ScheduleKind.EVERY
        return timing_build(
            kind=str(kind),
            now=now,
            cron_expression=(c.get("cron_expression") or "") if cron else None,
            time_zone=(c.get("time_zone") or "UTC") if cron else None,
            immediately=bool(c.get("immediately")) if cron else None,
            every_ms=self.interval_ms() if every else None,
            offset_ms=c.get("offset") if every else None,
            at=c.get("at") if kind == ScheduleKind.AT else None,
            start_at=c.get("start_at"),
            end_at=c.get("end_at"),
            limit=c.get("limit"),
            overlap=c.get("overlap") or Overlap.ALLOW,
        )

    def definition(self, *, now: datetime) -> ScheduleDefinition:
        """The cleaned fields as a :class:`ScheduleDefinition` (``definition.definition_build``)."""
        c = self.cleaned_data
        return definition_build(
            name=c.get("name"),
            data=c.get("data"),
            options=c.get("options"),
            queue=c.get("queue") or None,
            timing=lambda: self.timing(now=now),
        )

    def add_service_errors(self, exc: ValidationError) -> None:
        """Attach a service ``ValidationError`` to the fields its keys name (message text unchanged)."""
        add_service_errors(self, exc, self.error_fields())

    def save_through_service(self, *, owner, instance: Schedule | None = None) -> Schedule | None:
        """Create (``instance`` None) or replace the schedule via the services; ``None`` and field
        errors on the form if the service refuses it."""
        c = self.cleaned_data
        try:
            definition = self.definition(now=now_ms())
            if instance is None:
                return services.schedule_create(
                    owner=owner, definition=definition, scheduler_id=c.get("scheduler_id") or None
                )
            row, _ = services.schedule_replace(
                owner=instance.owner, scheduler_id=instance.scheduler_id, definition=definition
            )
            return row
        except ValidationError as exc:
            self.add_service_errors(exc)
        except services.ScheduleExists as exc:
            self.add_error("scheduler_id" if "scheduler_id" in self.fields else None, str(exc))
        return None


def initial_from_schedule(row: Schedule) -> dict:
    """Form initial values for a stored schedule (the inverse of ``ScheduleDefinitionForm.definition``)."""
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

    def field_names(self) -> dict[str, str]:
        return {**super().field_names(), "from": "preview_from"}

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
