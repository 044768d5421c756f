"""Webhook endpoints (API.md: Webhooks). Thin: parse, call a service or selector, shape the answer.

Another user's webhook or delivery is a 404 on every route.
"""

from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.exceptions import Conflict
from config.pagination import paginate

from .. import selectors, services
from .serializers import WebhookCreateSerializer, WebhookUpdateSerializer, delivery_to_dict, webhook_to_dict


class WebhookViewSet(viewsets.ViewSet):
    """``/webhooks``: the caller's webhooks, their delivery log, redelivery, test pings, secret rotation."""

    lookup_value_regex = r"[^/]+"

    def _get(self, request, pk):
        return selectors.webhook_get(user=request.user, webhook_id=pk)

    def list(self, request):
        """GET /webhooks → ``{webhooks: [...]}`` (secrets are never listed)."""
        return Response({"webhooks": [webhook_to_dict(w) for w in selectors.webhook_list(user=request.user)]})

    def create(self, request):
        """POST /webhooks ``{url, eventType, description?}`` → 201 ``{webhook}`` with ``secret`` (shown once).

        400 naming ``url`` for a bad or private-network URL; 409 for the same url + eventType.
        """
        ser = WebhookCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        try:
            webhook = services.webhook_create(
                owner=request.user, url=v["url"], event_type=v["eventType"], description=v["description"]
            )
        except services.WebhookExists as exc:
            raise Conflict(str(exc)) from None
        return Response(
            {"webhook": webhook_to_dict(webhook, include_secret=True)}, status=status.HTTP_201_CREATED
        )

    def retrieve(self, request, pk=None):
        """GET /webhooks/{id} → ``{webhook}``."""
        return Response({"webhook": webhook_to_dict(self._get(request, pk))})

    def update(self, request, pk=None):
        """PUT /webhooks/{id} any of ``{url, eventType, description, active}`` → 200 ``{webhook}``.

        ``active: true`` re-enables a disabled webhook. 400 / 409 as for creation.
        """
        webhook = self._get(request, pk)
        ser = WebhookUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        try:
            webhook = services.webhook_update(
                webhook=webhook,
                url=v.get("url"),
                event_type=v.get("eventType"),
                description=v.get("description"),
                active=v.get("active"),
            )
        except services.WebhookExists as exc:
            raise Conflict(str(exc)) from None
        return Response({"webhook": webhook_to_dict(webhook)})

    partial_update = update

    def destroy(self, request, pk=None):
        """DELETE /webhooks/{id} → 200 ``{message}``; its delivery log goes with it."""
        services.webhook_delete(webhook=self._get(request, pk))
        return Response({"message": "Webhook deleted"})

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """POST /webhooks/{id}/rotate-secret → 200 ``{webhook}`` with the new ``secret`` (shown once)."""
        webhook = services.webhook_rotate_secret(webhook=self._get(request, pk))
        return Response({"webhook": webhook_to_dict(webhook, include_secret=True)})

    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """POST /webhooks/{id}/test → 200 ``{delivery}``: a signed ``ping`` sent now, once; its outcome."""
        delivery = services.webhook_test(webhook=self._get(request, pk))
        return Response({"delivery": delivery_to_dict(delivery)})

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """GET /webhooks/{id}/deliveries ``?state&page&limit`` → ``{deliveries, pagination}``, newest 1st."""
        qs = selectors.delivery_list(
            user=request.user, webhook_id=pk, state=request.query_params.get("state")
        )
        items, pagination = paginate(qs, request.query_params)
        return Response({"deliveries": [delivery_to_dict(d) for d in items], "pagination": pagination})

    @action(detail=True, methods=["get"], url_path=r"deliveries/(?P<delivery_id>[^/]+)")
    def delivery(self, request, pk=None, delivery_id=None):
        """GET /webhooks/{id}/deliveries/{deliveryId} → ``{delivery}`` with its attempts."""
        row = selectors.delivery_get(user=request.user, webhook_id=pk, delivery_id=delivery_id)
        return Response({"delivery": delivery_to_dict(row)})

    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[^/]+)/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None):
        """POST /webhooks/{id}/deliveries/{deliveryId}/redeliver → 202 ``{delivery}``: the new delivery
        (same payload and webhook-id, a new attempt series). 409 while the original is still being sent."""
        row = selectors.delivery_get(user=request.user, webhook_id=pk, delivery_id=delivery_id)
        try:
            new = services.delivery_redeliver(delivery=row)
        except services.DeliveryStateError as exc:
            raise Conflict(str(exc)) from None
        return Response({"delivery": delivery_to_dict(new)}, status=status.HTTP_202_ACCEPTED)
