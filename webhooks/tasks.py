"""Celery tasks of queue ``webhooks`` (routed by ``CELERY_TASK_ROUTES``): thin wrappers of the services.

Each task's Python name is its service's; the registered names (``webhooks.tasks.deliver``, ...) are
the names on the broker and stay as they are, so messages queued before an upgrade still run.
"""

from celery import shared_task

from config.celery import DatabaseRetryTask

from . import delivery, fanout, maintenance


@shared_task(
    bind=True, name="webhooks.tasks.deliver", max_retries=None, ignore_result=True, base=DatabaseRetryTask
)
def delivery_send(self, delivery_id: int, owner_id: int | None = None) -> None:
    """Make the next attempt of delivery ``delivery_id`` within one of its owner's delivery slots
    (``webhooks.slots``); a retry due soon is re-published with Celery's own
    ``retry(countdown=...)``, later ones are left to ``send_due_retries``.

    Safe to run twice: the attempt is claimed in the database first.
    """
    outcome = delivery.delivery_send(delivery_id=delivery_id, owner_id=owner_id)
    if outcome is not None and outcome.requeue_in_s is not None:
        raise self.retry(countdown=outcome.requeue_in_s)


@shared_task(name="webhooks.tasks.flush_coalesced", ignore_result=True)
def coalesced_flush(owner_id: int, job_id: int, event: str) -> None:
    """At the end of a coalescing window: turn the job's buffered progress or delta events into deliveries."""
    fanout.coalesced_flush(owner_id=owner_id, job_id=job_id, event=event)


@shared_task(name="webhooks.tasks.send_due_retries", ignore_result=True)
def send_due_retries() -> None:
    """Periodic (beat, ``WEBHOOK_RETRY_SWEEP_S``): publish deliveries whose next attempt is due."""
    maintenance.deliveries_send_due()


@shared_task(name="webhooks.tasks.prune_deliveries", ignore_result=True)
def prune_deliveries() -> None:
    """Periodic (beat, hourly): delete finished deliveries older than ``WEBHOOK_DELIVERY_RETENTION_DAYS``."""
    maintenance.deliveries_prune()
