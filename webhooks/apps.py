from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from jobs.realtime import subscribe

        from .models import Webhook
        from .services import job_event_fan_out, webhooks_changed

        # Job events fan out to the owner's webhooks: registered here, so jobs imports nothing of ours.
        subscribe(job_event_fan_out)

        # Every save or delete (services, admin, cascades from a deleted user) invalidates the
        # per-process caches of active webhooks; the one bulk update (disabling) calls it itself.
        def changed(sender, **kwargs) -> None:
            webhooks_changed()

        post_save.connect(changed, sender=Webhook, weak=False, dispatch_uid="webhooks-cache")
        post_delete.connect(changed, sender=Webhook, weak=False, dispatch_uid="webhooks-cache-delete")
