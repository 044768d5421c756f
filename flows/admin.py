"""Django admin for flows: filters by status and owner; an action cancels the selected flows.

Staff who are not superusers see only their own flows. Flows are created by ``flow_create`` (API,
schedules), never typed into the admin; deleting one goes through ``flow_delete`` (its jobs too).
"""

from __future__ import annotations

from django.contrib import admin, messages

from accounts.admin import OwnerScopedAdminMixin
from config.errors import StateError

from .models import Flow
from .services import flow_cancel, flow_delete


@admin.register(Flow)
class FlowAdmin(OwnerScopedAdminMixin, admin.ModelAdmin):
    list_display = ("flow_id", "flowname", "owner", "name", "queue", "status", "created_at", "completed_at")
    list_filter = ("status", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=flow_id", "flowname", "name", "owner__username")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    actions = ("cancel_flows",)
    readonly_fields = [f.name for f in Flow._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def delete_model(self, request, obj: Flow) -> None:
        flow_delete(flow=obj)

    def delete_queryset(self, request, queryset) -> None:
        for flow in queryset:
            flow_delete(flow=flow)

    @admin.action(description="Cancel selected flows")
    def cancel_flows(self, request, queryset):
        done = 0
        for flow in queryset:
            try:
                flow_cancel(flow=flow)
                done += 1
            except StateError:
                pass
        self.message_user(request, f"{done} of {len(queryset)} flow(s) cancelled.", messages.SUCCESS)
