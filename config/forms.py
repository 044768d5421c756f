"""What every page and admin form that saves through a service shares."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError


def form_words(key: str | None, message: str) -> str:
    """A service message as a form shows it under its field (issue 17: forms talk like the form).

    The API names the field by its JSON path (``schedule.cron: day-of-month 31 never occurs in
    February``); under the form's own field that path is noise, so it is left out and the rule
    reads as a sentence: ``Day-of-month 31 never occurs in February``. A message about a part of
    the field keeps the part's name (``data.steps: ...`` under Data reads ``Steps: ...``). The
    API's wording itself stays in the API.
    """
    text = message
    if key and text.startswith(f"{key}: "):
        text = text[len(key) + 2 :]
    elif key and text.startswith(f"{key}."):
        text = text[len(key) + 1 :]
    return text[:1].upper() + text[1:]


def add_service_errors(form: forms.BaseForm, exc: ValidationError, fields: Mapping[str, str | None]) -> None:
    """Attach a service's ``ValidationError`` to ``form`` in the form's words (:func:`form_words`).

    ``fields`` maps the service's error keys (the API's JSON names, e.g. ``eventType``) to form
    fields; a key it does not map, or a field the form does not have, becomes a form-wide error. A
    form may word a key's messages itself with ``service_message(key, message) -> str | None``
    (e.g. an interval in the units the form uses); ``None`` falls back to :func:`form_words`.
    """
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    own = getattr(form, "service_message", None)
    for key, messages in items:
        field = fields.get(key) if key else None
        for message in messages:
            text = (own(key, message) if own else None) or form_words(key, message)
            form.add_error(field if field in form.fields else None, text)
