"""What every page and admin form that saves through a service shares."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(form: forms.BaseForm, exc: ValidationError, fields: dict[str, str | None]) -> None:
    """Attach a service's ``ValidationError`` to ``form`` (message text unchanged).

    ``fields`` maps the service's error keys (the API's JSON names, e.g. ``eventType``) to form
    fields; a key it does not map, or a field the form does not have, becomes a form-wide error.
    """
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    for key, messages in items:
        field = fields.get(key) if key else None
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
