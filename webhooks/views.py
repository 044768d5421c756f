"""Webhook pages under ``/app/webhooks/``. Thin: parse the form, call a service or selector, render.

Every read goes through ``webhooks.selectors`` (scoped to the signed-in user: another user's webhook
or delivery is a 404); every write through ``webhooks.services``, the API's services. A signing
secret is shown once: after creation or rotation it is handed to the next page view through the
session and dropped from it as soon as it has been shown.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services, signing
from .forms import WebhookForm
from .models import DeliveryState

PAGE_SIZE = 20
SECRET_KEY = "webhook_secret_once"


def _hand_over_secret(request, webhook) -> None:
    request.session[SECRET_KEY] = {
        "id": webhook.pk,
        "secret": webhook.secret,
        "standard": signing.standard_secret(webhook.secret),
    }


def _take_secret(request) -> dict | None:
    return request.session.pop(SECRET_KEY, None)


@login_required
def webhook_list_page(request):
    """GET/POST /app/webhooks/: the user's webhooks and the create form (``webhook_create``)."""
    form = WebhookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        webhook = form.create(owner=request.user)
        if webhook is not None:
            _hand_over_secret(request, webhook)
            messages.success(request, f"Webhook for {webhook.url} ({webhook.event_type}) created.")
            return redirect("webhook-list-page")
    return render(
        request,
        "webhooks/webhook_list.html",
        {
            "webhooks": selectors.webhook_list(user=request.user),
            "form": form,
            "secret": _take_secret(request),
            "loopback_allowed": settings.ALLOW_LOOPBACK_TARGETS,
        },
    )


@login_required
def webhook_detail_page(request, webhook_id: str):
    """GET /app/webhooks/<id>/ ``?state&page``: the webhook, its delivery log (newest first, 20 a
    page) with each delivery's attempts, and the action buttons."""
    webhook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    state = request.GET.get("state") or ""
    state = state if state in DeliveryState.values else ""
    deliveries = selectors.delivery_list(user=request.user, webhook_id=webhook.pk, state=state or None)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page)
    for delivery in items:
        delivery.payload_json = json.dumps(delivery.payload, indent=2)
    return render(
        request,
        "webhooks/webhook_detail.html",
        {
            "webhook": webhook,
            "page": page,
            "deliveries": items,
            "state": state,
            "states": DeliveryState.values,
            "query": f"state={state}&" if state else "",
            "secret": _take_secret(request),
        },
    )


def _test(request, webhook):
    delivery = services.webhook_test(webhook=webhook)
    attempt = delivery.attempts.order_by("-number").first()
    if delivery.state == DeliveryState.SUCCEEDED:
        messages.success(
            request, f"Test ping delivered: HTTP {delivery.last_status_code} in {attempt.latency_ms} ms."
        )
    else:
        messages.error(request, f"Test ping failed: {delivery.last_error or 'no answer'}.")


def _rotate(request, webhook):
    _hand_over_secret(request, services.webhook_rotate_secret(webhook=webhook))
    messages.success(request, "Signing secret rotated; requests from now on use the new one.")


def _set_active(active: bool):
    def act(request, webhook):
        services.webhook_update(webhook=webhook, active=active)
        messages.success(request, f"Webhook {'enabled' if active else 'disabled'}.")

    return act


ACTIONS = {"test": _test, "rotate": _rotate, "enable": _set_active(True), "disable": _set_active(False)}


@login_required
@require_POST
def webhook_action_page(request, webhook_id: str, action: str):
    """POST /app/webhooks/<id>/{test,rotate,enable,disable,delete}/: one service call, then back to
    the page the button was on (``back=detail``) or the list."""
    if action not in (*ACTIONS, "delete"):
        raise Http404
    webhook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    if action == "delete":
        services.webhook_delete(webhook=webhook)
        messages.success(request, f"Webhook for {webhook.url} deleted with its delivery log.")
        return redirect("webhook-list-page")
    try:
        ACTIONS[action](request, webhook)
    except ValidationError as exc:  # e.g. re-enabling a webhook whose URL is no longer allowed
        messages.error(request, " ".join(exc.messages))
    except services.WebhookExists as exc:
        messages.error(request, str(exc))
    if request.POST.get("back") == "detail" or action == "test":
        return redirect("webhook-detail-page", webhook_id=webhook.pk)
    return redirect("webhook-list-page")


@login_required
@require_POST
def delivery_redeliver_page(request, webhook_id: str, delivery_id: str):
    """POST /app/webhooks/<id>/deliveries/<deliveryId>/redeliver/: ``delivery_redeliver`` (a new
    delivery, same payload and webhook-id), then back to the delivery log."""
    delivery = selectors.delivery_get(user=request.user, webhook_id=webhook_id, delivery_id=delivery_id)
    try:
        new = services.delivery_redeliver(delivery=delivery)
    except services.DeliveryStateError as exc:
        messages.error(request, f"Delivery {delivery.pk}: {exc}")
    else:
        messages.success(request, f"Delivery {delivery.pk} queued again as delivery {new.pk}.")
    return redirect("webhook-detail-page", webhook_id=delivery.webhook_id)
