"""Admin for API keys: list, inspect and revoke. Keys are created by their owners (API or pages), because
the secret can be shown only once, to them. Staff who are not superusers see only their own keys."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from . import services
from .models import ApiKey


class OwnerScopedAdminMixin:
    """For the admin of any model with an ``owner`` and an ``owned_by(user)`` queryset: staff who are not
    superusers see and change only their own rows (the issue's rule for admin lists). Put it first in the
    bases: ``class JobAdmin(OwnerScopedAdminMixin, admin.ModelAdmin)``."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.owned_by(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Such staff can only make rows of their own.
        if db_field.name == "owner" and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ServiceSavedAdminMixin:
    """For an admin whose form's ``clean()`` already saved the row through the app's service (as the
    API and the pages do) and left it in ``form.saved_row``: the admin must not save it again, and
    deletes go through the service too: a subclass whose rows may be deleted defines ``delete_row(obj)``
    with its service; without one, deleting is refused (403), as ``has_delete_permission`` should say."""

    def delete_row(self, obj) -> None:
        raise PermissionDenied(f"{obj._meta.verbose_name} rows cannot be deleted here")

    def save_form(self, request, form, change):
        return form.saved_row

    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def delete_model(self, request, obj):
        self.delete_row(obj)

    def delete_queryset(self, request, queryset):
        for row in queryset:
            self.delete_row(row)


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
