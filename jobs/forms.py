"""The new-job page form. Validation is ``jobs.services.job_submit``'s (the API's rules, same messages)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from config.forms import add_service_errors

from . import handlers, services
from .models import Job


class JSONInput(forms.JSONField):
    """A JSON text field whose empty box means "not given" (``None``) and shows empty, not ``null``."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class JobSubmitForm(forms.Form):
    """``name`` (a handler), ``data`` (any JSON), ``options`` (JSON object of BullMQ options)."""

    # A CharField with a select widget: a name that is not a handler reaches the service and gets its message.
    name = forms.CharField(max_length=200, label="Handler")
    data = JSONInput(
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
        self.fields["name"].widget = forms.Select(
            choices=[(h.name, f"{h.name} — {h.description}") for h in handlers.all_handlers()]
        )

    def submit(self, *, owner) -> Job | None:
        """Submit through ``job_submit``; ``None`` with field errors if the service refuses it."""
        c = self.cleaned_data
        try:
            job, _ = services.job_submit(
                owner=owner, name=c["name"], data=c.get("data"), options=c.get("options")
            )
        except ValidationError as exc:
            add_service_errors(self, exc, {name: name for name in self.fields})
            return None
        return job
