"""``/auth/...`` API routes; each works with and without a trailing slash (the contract's rule)."""

from django.urls import re_path

from . import api

urlpatterns = [
    re_path(r"^register/?$", api.RegisterView.as_view(), name="auth-register"),
    re_path(r"^login/?$", api.LoginView.as_view(), name="auth-login"),
    re_path(r"^refresh-token/?$", api.RefreshTokenView.as_view(), name="auth-refresh-token"),
    re_path(r"^logout/?$", api.LogoutView.as_view(), name="auth-logout"),
    re_path(
        r"^request-password-reset/?$",
        api.PasswordResetRequestView.as_view(),
        name="auth-request-password-reset",
    ),
    re_path(r"^reset-password/?$", api.PasswordResetConfirmView.as_view(), name="auth-reset-password"),
    re_path(r"^me/?$", api.MeView.as_view(), name="auth-me"),
    re_path(r"^protected/?$", api.ProtectedView.as_view(), name="auth-protected"),
    re_path(r"^validate-api-key/?$", api.ValidateApiKeyView.as_view(), name="auth-validate-api-key"),
    re_path(r"^api-keys/?$", api.AuthApiKeyListView.as_view(), name="auth-api-keys"),
    re_path(r"^api-keys/(?P<key_id>[^/]+)/?$", api.ApiKeyDetailView.as_view(), name="auth-api-key"),
]
