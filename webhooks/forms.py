"""The webhook page form. Validation is ``webhooks.services``' (the API's rules, the same messages):
the form only collects the fields and maps the service's error keys back onto them."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from config.forms import add_service_errors, form_words

from . import services
from .models import EventType, Webhook

# Service error key (the API's JSON key) → form field.
ERROR_FIELDS = {"url": "url", "eventType": "event_type", "description": "description"}


class WebhookForm(forms.Form):
    """``url``, ``event_type`` (one of ``EventType``) and an optional ``description``."""

    # Plain CharFields without limits: the URL rules (length, http(s), resolvable, not a private
    # network) are the service's, so the page says what the API says.
    url = forms.CharField(
        label="URL",
        help_text="An http(s) URL on a public network; each request is signed with the webhook's secret.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/jobs", "autocomplete": "off"}),
    )
    event_type = forms.CharField(
        label="Event type",
        initial=EventType.COMPLETED,
        help_text="all = every job event (waiting, active, progress, delta, completed, failed, cancelled).",
        widget=forms.Select(choices=EventType.choices),
    )
    description = forms.CharField(required=False, max_length=services.DESCRIPTION_MAX_LENGTH)

    def create(self, *, owner) -> Webhook | None:
        """Create through ``webhook_create``; ``None`` with field errors if the service refuses it
        (a duplicate url + event type is an error on ``url``, with the API's 409 message)."""
        c = self.cleaned_data
        try:
            return services.webhook_create(
                owner=owner, url=c["url"], event_type=c["event_type"], description=c.get("description", "")
            )
        except ValidationError as exc:
            add_service_errors(self, exc, ERROR_FIELDS)
        except services.WebhookExists as exc:
            self.add_error("url", form_words("url", str(exc)))
        return None
