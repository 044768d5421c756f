"""Django admin for webhooks and their deliveries.

The webhook form validates and saves through ``webhooks.services`` (the API's and the pages' rules,
the same messages); the signing secret is never listed and is read-only in the form. Deliveries are a
read-only log with their attempts inline and a "redeliver" action (``delivery_redeliver``). Staff
who are not superusers see only their own webhooks and the deliveries of those.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.admin import OwnerScopedAdminMixin, ServiceSavedAdminMixin
from config.forms import add_service_errors, form_words

from . import services
from .forms import ERROR_FIELDS
from .models import Delivery, DeliveryAttempt, EventType, Webhook


class WebhookAdminForm(forms.ModelForm):
    """``owner`` (on creation), ``url``, ``event_type``, ``description``, ``active``.

    ``clean()`` calls ``webhook_create`` / ``webhook_update``: the service is the validation and its
    error keys land on these fields (a duplicate url + event type on ``url``). Django's own model
    validation is skipped because the service already validated and saved the row (the admin wraps
    the request in one transaction).
    """

    event_type = forms.CharField(label="Event type", widget=forms.Select(choices=EventType.choices))

    class Meta:
        model = Webhook
        fields = ["owner", "url", "event_type", "description", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved_row: Webhook | None = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        fields = {
            "url": cleaned.get("url", ""),
            "event_type": cleaned.get("event_type", ""),
            "description": cleaned.get("description") or "",
        }
        try:
            if self.instance.pk:
                self.saved_row = services.webhook_update(
                    webhook=self.instance, active=cleaned.get("active"), **fields
                )
            else:
                row = services.webhook_create(owner=cleaned.get("owner"), **fields)
                if cleaned.get("active") is False:
                    row = services.webhook_update(webhook=row, active=False)
                self.saved_row = row
        except ValidationError as exc:
            add_service_errors(self, exc, ERROR_FIELDS)
        except services.WebhookExists as exc:
            self.add_error("url", form_words("url", str(exc)))
        return cleaned

    def _post_clean(self):
        # The service validated (and saved) the webhook; re-validating the instance would only repeat it.
        pass


@admin.register(Webhook)
class WebhookAdmin(OwnerScopedAdminMixin, ServiceSavedAdminMixin, admin.ModelAdmin):
    form = WebhookAdminForm
    list_display = ("id", "owner", "url", "event_type", "active", "consecutive_failures", "created_at")
    list_filter = ("active", "event_type", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("url", "description", "owner__username")
    list_select_related = ("owner",)
    fields = (
        "owner",
        "url",
        "event_type",
        "description",
        "active",
        "secret",
        "consecutive_failures",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "secret",
        "consecutive_failures",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        # The owner is fixed once created.
        return self.readonly_fields + (("owner",) if obj is not None else ())

    def delete_row(self, obj) -> None:
        services.webhook_delete(webhook=obj)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "status_code", "latency_ms", "error", "response_body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """A read-only log: deliveries are written by the fan-out and the workers, never typed in."""

    list_display = (
        "id",
        "webhook_url",
        "owner",
        "event_type",
        "state",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("state", "event_type", "manual")
    search_fields = ("=id", "event_id", "=job_id", "webhook__url", "webhook__owner__username")
    list_select_related = ("webhook", "webhook__owner")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ("redeliver",)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return (
            qs if request.user.is_superuser else qs.filter(webhook__in=Webhook.objects.owned_by(request.user))
        )

    @admin.display(description="Webhook", ordering="webhook__url")
    def webhook_url(self, obj: Delivery) -> str:
        return obj.webhook.url

    @admin.display(description="Attempts", ordering="attempts_made")
    def attempts(self, obj: Delivery) -> str:
        return f"{obj.attempts_made}/{obj.max_attempts}"

    @admin.display(description="Owner", ordering="webhook__owner__username")
    def owner(self, obj: Delivery):
        return obj.webhook.owner

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Redeliver the selected finished deliveries", permissions=["view"])
    def redeliver(self, request, queryset):
        done = skipped = 0
        for delivery in queryset.select_related("webhook"):
            try:
                services.delivery_redeliver(delivery=delivery)
            except services.DeliveryStateError:
                skipped += 1
            else:
                done += 1
        self.message_user(request, f"{done} delivery(ies) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} skipped: still being sent.", messages.WARNING)
