"""The new-job page form. Validation is ``jobs.submission.job_submit``'s (the API's rules, same messages)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from config.forms import add_service_errors

from . import handlers, submission
from .models import Job


class JSONInput(forms.JSONField):
    """A JSON text field whose empty box means "not given" (``None``) and shows empty, not ``null``."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


def handler_choices(current: str | None = None) -> list[tuple[str, str]]:
    """The handler picker of every form that names a handler (new job, schedule page and admin):
    ``(name, "name — description")`` per registered handler, plus ``current`` if it is not one
    (a schedule saved for a handler this server no longer has), so editing never changes it silently."""
    choices = [(h.name, f"{h.name} — {h.description}") for h in handlers.all_handlers()]
    if current and current not in dict(choices):
        choices.append((current, f"{current} — not registered on this server"))
    return choices


def use_handler_picker(form: forms.BaseForm, field: str = "name") -> None:
    """Give ``form``'s handler field the one picker (:func:`handler_choices`). The field stays a
    CharField: a name that is not a handler reaches the service and gets its message."""
    current = form.data.get(form.add_prefix(field)) if form.is_bound else form.initial.get(field)
    form.fields[field].widget = forms.Select(choices=handler_choices(current))


class JobSubmitForm(forms.Form):
    """``name`` (a handler), ``data`` (any JSON), ``options`` (JSON object of BullMQ options)."""

    # A CharField with a select widget: a name that is not a handler reaches the service and gets its message.
    name = forms.CharField(max_length=200, label="Handler")
    # A field named like BaseForm.data: Django's form metaclass moves declared fields into base_fields.
    data: Any = JSONInput(
        required=False,
        help_text="JSON passed to the handler (checked against its schema).",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    options = JSONInput(
        required=False,
        help_text='Optional, e.g. {"attempts": 3, "delay": 5000}.',
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        use_handler_picker(self)

    def submit(self, *, owner) -> Job | None:
        """Submit through ``job_submit``; ``None`` with field errors if the service refuses it."""
        c = self.cleaned_data
        try:
            job, _ = submission.job_submit(
                owner=owner, name=c["name"], data=c.get("data"), options=c.get("options")
            )
        except ValidationError as exc:
            add_service_errors(self, exc, {name: name for name in self.fields})
            return None
        return job
