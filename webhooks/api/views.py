"""Webhook endpoints (API.md: Webhooks). Thin: parse, call a service or selector, shape the answer.

Another user's webhook or delivery is a 404 on every route.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi.schema import errors
from config.pagination import PAGE_PARAMETERS, paginate
from config.serializers import MessageSerializer

from .. import selectors, services
from .serializers import (
    DeliveryEnvelopeSerializer,
    DeliveryListSerializer,
    LegacyWebhookUrlResultSerializer,
    LegacyWebhookUrlSerializer,
    WebhookCreateSerializer,
    WebhookEnvelopeSerializer,
    WebhookListSerializer,
    WebhookSecretEnvelopeSerializer,
    WebhookUpdateSerializer,
)

logger = logging.getLogger(__name__)


class WebhookViewSet(viewsets.ViewSet):
    """``/webhooks``: the caller's webhooks, their delivery log, redelivery, test pings, secret rotation."""

    lookup_value_regex = r"[^/]+"

    def _get(self, request, pk):
        return selectors.webhook_get(user=request.user, webhook_id=pk)

    @extend_schema(summary="Your webhooks", responses={200: WebhookListSerializer})
    def list(self, request):
        """GET /webhooks → ``{webhooks: [...]}`` (secrets are never listed)."""
        return Response(WebhookListSerializer({"webhooks": selectors.webhook_list(user=request.user)}).data)

    @extend_schema(
        summary="Add a webhook",
        request=WebhookCreateSerializer,
        responses={201: WebhookSecretEnvelopeSerializer, **errors(409)},
        description="The signing secret is in this answer only. 409 for the same url and eventType.",
    )
    def create(self, request):
        """POST /webhooks ``{url, eventType, description?}`` → 201 ``{webhook}`` with ``secret`` (shown once).

        400 naming ``url`` for a bad or private-network URL; 409 for the same url + eventType.
        """
        ser = WebhookCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        webhook = services.webhook_create(
            owner=request.user, url=v["url"], event_type=v["eventType"], description=v["description"]
        )
        return Response(
            WebhookSecretEnvelopeSerializer({"webhook": webhook}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(summary="One of your webhooks", responses={200: WebhookEnvelopeSerializer})
    def retrieve(self, request, pk=None):
        """GET /webhooks/{id} → ``{webhook}``."""
        return Response(WebhookEnvelopeSerializer({"webhook": self._get(request, pk)}).data)

    @extend_schema(
        summary="Change a webhook",
        request=WebhookUpdateSerializer,
        responses={200: WebhookEnvelopeSerializer, **errors(409)},
    )
    def update(self, request, pk=None):
        """PUT /webhooks/{id} any of ``{url, eventType, description, active}`` → 200 ``{webhook}``.

        ``active: true`` re-enables a disabled webhook. 400 / 409 as for creation.
        """
        webhook = self._get(request, pk)
        ser = WebhookUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        webhook = services.webhook_update(
            webhook=webhook,
            url=v.get("url"),
            event_type=v.get("eventType"),
            description=v.get("description"),
            active=v.get("active"),
        )
        return Response(WebhookEnvelopeSerializer({"webhook": webhook}).data)

    @extend_schema(
        summary="Change part of a webhook",
        request=WebhookUpdateSerializer,
        responses={200: WebhookEnvelopeSerializer, **errors(409)},
    )
    def partial_update(self, request, pk=None):
        """PATCH /webhooks/{id}: as PUT."""
        return self.update(request, pk)

    @extend_schema(
        summary="Sample receiver of notifications (answers 200, stores nothing)",
        request=OpenApiTypes.OBJECT,
        responses={200: None},
    )
    def receive(self, request, pk=None):
        """POST /webhooks/{id}: the original's sample notification receiver (it logged the body and
        answered 200 with no body, behind authentication). Kept for its clients: authenticated, logs
        the payload's ``id``/``jobname`` at debug level, answers 200 with an empty body, stores nothing."""
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["body: must be a JSON object (a notification)"]})
        logger.debug("notification for %s received: job %s/%s", pk, body.get("id"), body.get("jobname"))
        return Response(status=status.HTTP_200_OK)

    @extend_schema(summary="Remove a webhook", responses={200: MessageSerializer})
    def destroy(self, request, pk=None):
        """DELETE /webhooks/{id} → 200 ``{message}``; its delivery log goes with it."""
        services.webhook_delete(webhook=self._get(request, pk))
        return Response({"message": "Webhook deleted successfully"})

    @extend_schema(
        summary="Replace the signing secret", request=None, responses={200: WebhookSecretEnvelopeSerializer}
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """POST /webhooks/{id}/rotate-secret → 200 ``{webhook}`` with the new ``secret`` (shown once)."""
        webhook = services.webhook_rotate_secret(webhook=self._get(request, pk))
        return Response(WebhookSecretEnvelopeSerializer({"webhook": webhook}).data)

    @extend_schema(
        summary="Send a signed test ping now", request=None, responses={200: DeliveryEnvelopeSerializer}
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """POST /webhooks/{id}/test → 200 ``{delivery}``: a signed ``ping`` sent now, once; its outcome."""
        delivery = services.webhook_test(webhook=self._get(request, pk))
        return Response(DeliveryEnvelopeSerializer({"delivery": delivery}).data)

    @extend_schema(
        summary="A webhook's delivery log",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "state", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Only this state."
            ),
        ],
        responses={200: DeliveryListSerializer},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """GET /webhooks/{id}/deliveries ``?state&page&limit`` → ``{deliveries, pagination}``, newest 1st."""
        qs = selectors.delivery_list(
            user=request.user, webhook_id=pk, state=request.query_params.get("state")
        )
        items, pagination = paginate(qs, request.query_params)
        return Response(DeliveryListSerializer({"deliveries": items, "pagination": pagination}).data)

    @extend_schema(summary="One delivery with its attempts", responses={200: DeliveryEnvelopeSerializer})
    @action(detail=True, methods=["get"], url_path=r"deliveries/(?P<delivery_id>[^/]+)")
    def delivery(self, request, pk=None, delivery_id=None):
        """GET /webhooks/{id}/deliveries/{deliveryId} → ``{delivery}`` with its attempts."""
        row = selectors.delivery_get(user=request.user, webhook_id=pk, delivery_id=delivery_id)
        return Response(DeliveryEnvelopeSerializer({"delivery": row}).data)

    @extend_schema(
        summary="Send a delivery again",
        request=None,
        responses={202: DeliveryEnvelopeSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[^/]+)/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None):
        """POST /webhooks/{id}/deliveries/{deliveryId}/redeliver → 202 ``{delivery}``: the new delivery
        (same payload and webhook-id, a new attempt series). 409 while the original is still being sent."""
        row = selectors.delivery_get(user=request.user, webhook_id=pk, delivery_id=delivery_id)
        new = services.delivery_redeliver(delivery=row)
        return Response(DeliveryEnvelopeSerializer({"delivery": new}).data, status=status.HTTP_202_ACCEPTED)


class LegacyWebhookUrlView(APIView):
    """PUT /webhooks/url ``{webhookUrl}`` → 200 ``{message, webhookUrl, webhook}``: the original's legacy
    route setting ``user.webhookUrl`` (``services.webhook_set_legacy_url``: the owner's one legacy
    webhook, ``completed`` events). 400 ``webhookUrl`` for a bad or private-network URL; 409 if another
    of the owner's webhooks already has that url for ``completed``."""

    @extend_schema(
        summary="Set your legacy webhookUrl (completed events)",
        request=LegacyWebhookUrlSerializer,
        responses={200: LegacyWebhookUrlResultSerializer, **errors(409)},
        tags=["webhooks"],
    )
    def put(self, request):
        ser = LegacyWebhookUrlSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        webhook = services.webhook_set_legacy_url(owner=request.user, url=ser.validated_data["webhookUrl"])
        body = {"message": "Webhook URL updated successfully", "webhookUrl": webhook.url, "webhook": webhook}
        return Response(LegacyWebhookUrlResultSerializer(body).data)
