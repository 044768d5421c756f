"""Job events become deliveries for matching webhooks; progress and delta are coalesced (in-process)."""

import pytest
from django.test import override_settings

from jobs.models import Job
from jobs.realtime import publish_job_event
from webhooks import services
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db


def _hook(owner, event_type, path="/hook"):
    return Webhook.objects.create(
        owner=owner, url=f"http://127.0.0.1:9{path}", event_type=event_type, secret="whsec_AAAA"
    )


def _job(owner, name="echo"):
    return Job.objects.create(owner=owner, name=name, data={"n": 1})


def _types(hook):
    return list(Delivery.objects.filter(webhook=hook).order_by("id").values_list("event_type", flat=True))


def test_all_receives_every_event_and_completed_only_completions(owner):
    every, done, failed = (
        _hook(owner, "all", "/all"),
        _hook(owner, "completed", "/c"),
        _hook(owner, "failed", "/f"),
    )
    job, other = _job(owner), _job(owner)
    for event, extra in [
        ("waiting", {}),
        ("active", {}),
        ("progress", {"progress": 50}),
        ("delta", {"content": "hi"}),
        ("completed", {"result": {"ok": True}}),
    ]:
        publish_job_event(job, event, **extra)
    publish_job_event(other, "failed", error="ValueError: boom")
    publish_job_event(other, "cancelled")
    assert _types(every) == ["waiting", "active", "progress", "delta", "completed", "failed", "cancelled"]
    assert _types(done) == ["completed"]
    assert _types(failed) == ["failed"]


def test_payload_has_the_contract_fields_and_each_delivery_its_own_id(owner):
    hook, hook2 = _hook(owner, "completed"), _hook(owner, "all")
    job = _job(owner)
    message = publish_job_event(job, "completed", result={"ok": True})
    row = Delivery.objects.get(webhook=hook)
    assert row.payload == {
        "id": str(job.pk),
        "jobId": str(job.pk),
        "jobname": "echo",
        "queueName": "jobQueue",
        "userId": owner.pk,
        "eventType": "completed",
        "state": job.state,
        "timestamp": message["timestamp"],
        "result": {"ok": True},
    }
    assert (row.state, row.attempts_made, row.max_attempts, row.job_id) == ("pending", 0, 8, job.pk)
    assert row.event_id.startswith("msg_") and row.event_id != Delivery.objects.get(webhook=hook2).event_id


def test_no_delivery_for_other_users_or_inactive_webhooks(owner, other_user):
    _hook(other_user, "all")
    Webhook.objects.filter(pk=_hook(owner, "all", "/off").pk).update(active=False)
    publish_job_event(_job(owner), "completed", result=1)
    assert Delivery.objects.count() == 0


def test_a_hundred_progress_events_become_one_delivery_with_the_last_value(owner):
    hook = _hook(owner, "progress")
    job = _job(owner)
    for value in range(100):
        publish_job_event(job, "progress", progress=value)
    assert Delivery.objects.count() == 0  # buffered until the window's flush task runs
    assert services.coalesced_flush(owner_id=owner.pk, job_id=job.pk, event="progress") == 1
    assert services.coalesced_flush(owner_id=owner.pk, job_id=job.pk, event="progress") == 0
    (row,) = Delivery.objects.filter(webhook=hook)
    assert (row.event_type, row.payload["progress"]) == ("progress", 99)


def test_deltas_of_a_window_are_concatenated_in_order(owner):
    hook = _hook(owner, "delta")
    job = _job(owner)
    for n in range(50):
        publish_job_event(job, "delta", content=f"{n},")
    services.coalesced_flush(owner_id=owner.pk, job_id=job.pk, event="delta")
    (row,) = Delivery.objects.filter(webhook=hook)
    assert row.payload["content"] == "".join(f"{n}," for n in range(50))


def test_a_terminal_event_flushes_buffered_progress_and_deltas_first(owner):
    hook = _hook(owner, "all")
    job = _job(owner)
    for value in (10, 20, 30):
        publish_job_event(job, "progress", progress=value)
        publish_job_event(job, "delta", content=str(value))
    publish_job_event(job, "completed", result="done")
    rows = list(Delivery.objects.filter(webhook=hook).order_by("id"))
    assert [(r.event_type, r.payload.get("progress"), r.payload.get("content")) for r in rows] == [
        ("progress", 30, None),
        ("delta", None, "102030"),
        ("completed", None, None),
    ]


def test_events_of_a_user_without_webhooks_create_nothing(owner):
    job = _job(owner)
    for value in range(5):
        publish_job_event(job, "progress", progress=value)
    publish_job_event(job, "completed", result=None)
    assert Delivery.objects.count() == 0


def test_without_redis_events_are_delivered_uncoalesced_and_the_final_one_still_arrives(owner):
    hook = _hook(owner, "all")
    job = _job(owner)
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):  # nothing listens on port 1
        publish_job_event(job, "progress", progress=1)
        publish_job_event(job, "progress", progress=2)
        publish_job_event(job, "completed", result=None)
    assert _types(hook) == ["progress", "progress", "completed"]


@pytest.mark.django_db(transaction=True)  # inside a transaction the cache is not filled
def test_the_per_process_cache_sees_webhooks_created_deleted_or_disabled_after_it_was_filled(owner):
    job = _job(owner)
    publish_job_event(job, "completed", result=1)  # fills this process's cache with "no webhooks"
    assert Delivery.objects.count() == 0
    hook = _hook(owner, "completed")
    publish_job_event(job, "completed", result=2)
    assert _types(hook) == ["completed"]
    with override_settings(WEBHOOK_DISABLE_AFTER_FAILURES=1):
        services._count_failure(hook, "HTTP 500")
    assert Webhook.objects.get(pk=hook.pk).active is False
    publish_job_event(job, "completed", result=3)
    assert _types(hook) == ["completed"]
    Webhook.objects.filter(pk=hook.pk).update(active=True)
    services.webhooks_changed()
    publish_job_event(job, "completed", result=4)
    assert _types(hook) == ["completed", "completed"]
    hook.delete()
    publish_job_event(job, "completed", result=5)
    assert Delivery.objects.count() == 0  # the deliveries went with the webhook; none was made after


@pytest.mark.django_db(transaction=True)  # inside a transaction the cache is not filled
def test_a_change_announced_by_another_process_clears_this_processs_cache(owner):
    from config.redis_client import redis_client
    from tests.conftest import wait_until

    job = _job(owner)
    publish_job_event(job, "completed", result=1)  # starts this process's change listener
    assert wait_until(lambda: services._ActiveWebhooks.subscribed, 5)
    publish_job_event(job, "completed", result=2)  # caches "no webhooks" for the owner
    assert services._ActiveWebhooks.owners[owner.pk] == []
    # bulk_create sends no post_save: as if another process had created the webhook.
    (hook,) = Webhook.objects.bulk_create(
        [Webhook(owner=owner, url="http://127.0.0.1:9/hook", event_type="completed", secret="whsec_AAAA")]
    )
    publish_job_event(job, "completed", result=3)
    assert _types(hook) == []  # this process still trusts its cache: the change was not announced
    redis_client().publish(services.CHANGED_CHANNEL, "1")
    assert wait_until(lambda: owner.pk not in services._ActiveWebhooks.owners, 5)
    publish_job_event(job, "completed", result=4)
    assert _types(hook) == ["completed"]
