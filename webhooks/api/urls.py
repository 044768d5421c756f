"""``/webhooks`` routes. ``PUT /webhooks/url`` (legacy) and the detail route with the original's
``POST /webhooks/{id}`` come before the router's own, which would take ``url`` for an id."""

from django.urls import re_path

from config.routers import OptionalSlashRouter

from .views import LegacyWebhookUrlView, WebhookViewSet

router = OptionalSlashRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
_detail = WebhookViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy", "post": "receive"}
)
urlpatterns = [
    re_path(r"^webhooks/url/?$", LegacyWebhookUrlView.as_view(), name="webhook-legacy-url"),
    re_path(r"^webhooks/(?P<pk>[^/]+)/?$", _detail, name="webhook-detail-compat"),
    *router.urls,
]
