"""API key pages (``/app/api-keys/...``); the REST endpoints are ``/auth/api-keys``."""

from django.urls import path

from . import api_key_views

urlpatterns = [
    path("", api_key_views.api_key_list_page, name="api-key-list-page"),
    path("<str:key_id>/revoke/", api_key_views.api_key_revoke_page, name="api-key-revoke-page"),
]
