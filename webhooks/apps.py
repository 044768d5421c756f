import os

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from jobs.realtime import subscribe

        from .active import restart_change_listener_after_fork, start_change_listener, webhooks_changed
        from .fanout import job_event_fan_out
        from .models import Webhook

        # Job events fan out to the owner's webhooks: registered here, so jobs imports nothing of ours.
        subscribe(job_event_fan_out)

        # Every save or delete (services, admin, cascades from a deleted user) invalidates the
        # per-process caches of active webhooks; the one bulk update (disabling) calls it itself.
        def changed(sender, **kwargs) -> None:
            webhooks_changed()

        post_save.connect(changed, sender=Webhook, weak=False, dispatch_uid="webhooks-cache")
        post_delete.connect(changed, sender=Webhook, weak=False, dispatch_uid="webhooks-cache-delete")
        # The one place the cache's listener thread starts: in this process now, and in every child
        # forked from it (Celery's prefork pool, uvicorn workers), which inherit the cache but not the thread.
        start_change_listener()
        os.register_at_fork(after_in_child=restart_change_listener_after_fork)
