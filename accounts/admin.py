"""Admin for API keys: list, inspect and revoke. Keys are created by their owners (API or pages), because
the secret can be shown only once, to them. Staff who are not superusers see only their own keys."""

from django.contrib import admin, messages

from . import services
from .models import ApiKey


class OwnerScopedAdminMixin:
    """For the admin of any model with an ``owner`` and an ``owned_by(user)`` queryset: staff who are not
    superusers see and change only their own rows (the issue's rule for admin lists). Put it first in the
    bases: ``class JobAdmin(OwnerScopedAdminMixin, admin.ModelAdmin)``."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.owned_by(request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(OwnerScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "owner", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "owner__username")
    readonly_fields = ("owner", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "owner", "prefix", "key_hash", "created_at", "expires_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    list_select_related = ("owner",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {queryset.count()} API key(s).", messages.SUCCESS)
