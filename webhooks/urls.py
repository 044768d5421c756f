"""Webhook pages (``/app/webhooks/...``); the REST endpoints are in ``webhooks/api/urls.py``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.webhook_list_page, name="webhook-list-page"),
    path("<str:webhook_id>/", views.webhook_detail_page, name="webhook-detail-page"),
    path(
        "<str:webhook_id>/deliveries/<str:delivery_id>/redeliver/",
        views.delivery_redeliver_page,
        name="delivery-redeliver-page",
    ),
    path("<str:webhook_id>/<str:action>/", views.webhook_action_page, name="webhook-action-page"),
]
