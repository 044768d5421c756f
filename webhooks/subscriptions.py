"""Webhook subscriptions: create, change, delete a user's webhooks (and the legacy ``webhookUrl`` one).

Every write validates through :func:`validate_webhook_input` (the API's, the pages' and the admin's
rule) and answers a duplicate (owner, url, event type), which a ``UniqueConstraint`` enforces, with
:class:`WebhookExists`. Each save or delete announces itself to every process's cache of active
webhooks (``webhooks.active``) through the model signals connected in ``WebhooksConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import netguard
from config.errors import ConflictError

from . import signing
from .models import EventType, Webhook

URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 500


class WebhookExists(ConflictError):
    """The owner already has a webhook for this url and event type (the API answers 409)."""


def _err(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def validate_webhook_input(*, url: Any, event_type: Any, description: Any) -> None:
    """Check ``url`` (http(s), resolvable, not a private network unless the operator allows it),
    ``event_type`` and ``description``; raises ``ValidationError`` naming the field with a stable code."""
    if not isinstance(url, str) or not url.strip():
        raise _err("url", "url: required, an http or https URL", "required")
    if len(url) > URL_MAX_LENGTH:
        raise _err("url", f"url: at most {URL_MAX_LENGTH} characters", "max_length")
    try:
        netguard.check_url(url.strip())
    except netguard.UnsafeTarget as exc:
        message = str(exc)
        raise _err(
            "url", message if message.startswith("url:") else f"url: {message}", "unsafe_url"
        ) from None
    if event_type not in EventType.values:
        raise _err("eventType", f"eventType: must be one of {', '.join(EventType.values)}", "invalid_choice")
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX_LENGTH:
        raise _err(
            "description", f"description: a string of at most {DESCRIPTION_MAX_LENGTH} characters", "invalid"
        )


def _save_unique(webhook: Webhook) -> None:
    try:
        with transaction.atomic():
            webhook.save()
    except IntegrityError:
        raise WebhookExists(
            f"url: you already have a webhook for {webhook.url} and eventType '{webhook.event_type}'"
        ) from None


def webhook_create(*, owner, url: str, event_type: str, description: str = "") -> Webhook:
    """Create a webhook with a fresh signing secret (``whsec_...``; the caller shows it once).

    Raises ``ValidationError`` (bad or unsafe url, unknown event type) or :class:`WebhookExists`
    for a duplicate (owner, url, event type), which a ``UniqueConstraint`` enforces.
    """
    validate_webhook_input(url=url, event_type=event_type, description=description)
    webhook = Webhook(
        owner=owner,
        url=url.strip(),
        event_type=event_type,
        description=description,
        secret=signing.generate_secret(),
    )
    _save_unique(webhook)
    return webhook


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    event_type: str | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change any of ``url``, ``event_type``, ``description``, ``active`` (``None``: keep).

    Same rules as creation. ``active=True`` on a disabled webhook re-enables it and clears the
    failure count and reason. Raises ``ValidationError`` or :class:`WebhookExists`.
    """
    new_url = webhook.url if url is None else url
    new_type = webhook.event_type if event_type is None else event_type
    new_description = webhook.description if description is None else description
    validate_webhook_input(url=new_url, event_type=new_type, description=new_description)
    webhook.url, webhook.event_type, webhook.description = new_url.strip(), new_type, new_description
    if active is True and not webhook.active:
        webhook.active, webhook.consecutive_failures, webhook.disabled_reason, webhook.disabled_at = (
            True,
            0,
            "",
            None,
        )
    elif active is False and webhook.active:
        webhook.active, webhook.disabled_reason, webhook.disabled_at = (
            False,
            "disabled by its owner",
            timezone.now(),
        )
    _save_unique(webhook)
    return webhook


LEGACY_DESCRIPTION = "webhookUrl (legacy, from registration)"


def webhook_set_legacy_url(*, owner, url: str) -> Webhook:
    """Set ``owner``'s legacy ``webhookUrl`` (JobRunner's ``user.webhookUrl``): the one webhook with
    ``legacy=True``, subscribed to ``completed`` as the original's was, created on first use.

    It is an ordinary webhook from then on: signed, retried, logged, listed, editable. Raises
    ``ValidationError`` or :class:`WebhookExists` (another webhook of the owner already has this url for
    ``completed``), both naming the field ``webhookUrl`` (the original's name for it).
    """
    try:
        row = Webhook.objects.owned_by(owner).filter(legacy=True).first()
        if row is not None:
            return webhook_update(webhook=row, url=url)
        validate_webhook_input(url=url, event_type=EventType.COMPLETED, description=LEGACY_DESCRIPTION)
        webhook = Webhook(
            owner=owner,
            url=url.strip(),
            event_type=EventType.COMPLETED,
            description=LEGACY_DESCRIPTION,
            secret=signing.generate_secret(),
            legacy=True,
        )
        _save_unique(webhook)
        return webhook
    except WebhookExists as exc:
        raise WebhookExists(str(exc).replace("url:", "webhookUrl:", 1)) from None
    except ValidationError as exc:
        messages = [m.replace("url:", "webhookUrl:", 1) for m in exc.messages]
        raise ValidationError({"webhookUrl": messages}) from None


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete a webhook and its delivery log; its queued attempts find no row and do nothing."""
    webhook.delete()


def webhook_rotate_secret(*, webhook: Webhook) -> Webhook:
    """Replace the signing secret; attempts from now on (retries included) are signed with the new one."""
    webhook.secret = signing.generate_secret()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook
