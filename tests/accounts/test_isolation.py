"""Isolation matrix: user B ("other") gets 404 for user A's ("owner") object on every object endpoint,
A's object is unchanged afterwards, and A's lists never show B's objects.

Table-driven, so an app adds its endpoints by appending: a ``Kind`` to ``KINDS`` (how A's object is
made, its id in URLs, and a snapshot of its stored state) and one ``Row`` per method and action to
``ROWS``, and a ``Listing`` per list endpoint to ``LISTINGS``. Every row also runs as A afterwards and
must not be a 404/405: that proves the route exists, so B's 404 comes from the owner check and not
from a missing route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import override_settings

from accounts import services as account_services
from accounts.models import ApiKey
from jobs import submission
from jobs.models import Job
from scheduling import services as schedule_services
from scheduling.models import Schedule
from webhooks import services as webhook_services
from webhooks.models import Delivery, DeliveryState, Webhook


@dataclass(frozen=True)
class Kind:
    make: Callable[[Any], Any]  # user -> that user's new object
    ref: Callable[[Any], str]  # object -> its id in URLs
    snapshot: Callable[[Any], Any]  # object -> its stored state, read fresh from the database


def _job_snapshot(job):
    return model_to_dict(Job.objects.get(pk=job.pk))


def _schedule_snapshot(row):
    fresh = Schedule.objects.select_related("periodic_task").get(pk=row.pk)
    return model_to_dict(fresh), fresh.periodic_task.enabled, fresh.jobs.count()


def _api_key_snapshot(key):
    return model_to_dict(ApiKey.objects.get(pk=key.pk))


def _make_webhook(user) -> Webhook:
    # A loopback URL needs the operator setting at creation; the requests below run with it off.
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
        return webhook_services.webhook_create(
            owner=user, url=f"http://127.0.0.1:9/hook-{user.pk}", event_type="all"
        )


def _webhook_snapshot(hook):
    fresh = Webhook.objects.get(pk=hook.pk)
    return model_to_dict(fresh), fresh.deliveries.count()


def _make_delivery(user) -> Delivery:
    return Delivery.objects.create(
        webhook=_make_webhook(user),
        event_id=f"evt_{user.pk}",
        event_type="completed",
        payload={"id": "1"},
        state=DeliveryState.FAILED,
        attempts_made=1,
    )


def _delivery_snapshot(delivery):
    fresh = Delivery.objects.get(pk=delivery.pk)
    return model_to_dict(fresh), Delivery.objects.filter(webhook_id=fresh.webhook_id).count()


KINDS: dict[str, Kind] = {
    "job": Kind(
        make=lambda user: submission.job_submit(owner=user, name="echo", data={"n": 1})[0],
        ref=lambda job: str(job.pk),
        snapshot=_job_snapshot,
    ),
    "schedule": Kind(
        make=lambda user: schedule_services.schedule_create(
            owner=user, name="echo", data={"n": 1}, schedule={"cron": "0 0 1 1 *"}
        ),
        ref=lambda row: row.scheduler_id,
        snapshot=_schedule_snapshot,
    ),
    "webhook": Kind(make=_make_webhook, ref=lambda hook: str(hook.pk), snapshot=_webhook_snapshot),
    "delivery": Kind(
        make=_make_delivery,
        ref=lambda delivery: f"{delivery.webhook_id}/deliveries/{delivery.pk}",
        snapshot=_delivery_snapshot,
    ),
    "api_key": Kind(
        make=lambda user: account_services.api_key_create(owner=user, name="ci")[0],
        ref=lambda key: str(key.pk),
        snapshot=_api_key_snapshot,
    ),
}

SCHEDULE_BODY = {"name": "echo", "data": {"hijacked": True}, "schedule": {"cron": "30 12 * * *"}}


@dataclass(frozen=True)
class Row:
    kind: str
    method: str
    path: str  # with "{id}" for the object's id
    body: dict | None = None
    status: int = 404  # what B gets


ROWS: list[Row] = [
    Row("job", "GET", "/jobs/{id}"),
    Row("schedule", "GET", "/jobs/schedule/{id}"),
    # Schedules are upserted per owner (BullMQ's upsert by id, scoped to the caller): B's PUT to A's
    # schedulerId creates B's OWN schedule with that id (201) and never touches A's, which the
    # unchanged-snapshot check below proves. Answering 404 here would instead leak which ids others use.
    Row("schedule", "PUT", "/jobs/schedule/{id}", SCHEDULE_BODY, status=201),
    Row("schedule", "PATCH", "/jobs/schedule/{id}", {"data": {"hijacked": True}}),
    Row("schedule", "DELETE", "/jobs/schedule/{id}"),
    Row("schedule", "POST", "/jobs/schedule/{id}/pause"),
    Row("schedule", "POST", "/jobs/schedule/{id}/resume"),
    Row("schedule", "POST", "/jobs/schedule/{id}/trigger"),
    Row("schedule", "GET", "/jobs/schedule/{id}/jobs"),
    Row("webhook", "GET", "/webhooks/{id}"),
    Row("webhook", "PUT", "/webhooks/{id}", {"url": "http://127.0.0.1:9/hijacked", "eventType": "failed"}),
    Row("webhook", "DELETE", "/webhooks/{id}"),
    Row("webhook", "POST", "/webhooks/{id}/rotate-secret"),
    Row("webhook", "POST", "/webhooks/{id}/test"),
    Row("webhook", "GET", "/webhooks/{id}/deliveries"),
    Row("delivery", "GET", "/webhooks/{id}"),
    Row("delivery", "POST", "/webhooks/{id}/redeliver"),
    Row("api_key", "DELETE", "/auth/api-keys/{id}"),
]


def _call(client, row: Row, ref: str):
    path = row.path.format(id=ref)
    return getattr(client, row.method.lower())(path, row.body, format="json")


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.path}" for r in ROWS])
def test_other_user_cannot_reach_the_owners_object(db, owner, other_user, api, other_api, row):
    kind = KINDS[row.kind]
    obj = kind.make(owner)
    before = kind.snapshot(obj)

    res = _call(other_api, row, kind.ref(obj))

    assert res.status_code == row.status, res.json()
    if row.status == 404:
        assert res.json() == {"message": "Not found.", "errors": {}}
    assert kind.snapshot(obj) == before
    if row.method == "PUT" and row.kind == "schedule":
        assert res.json()["schedulerId"] == obj.scheduler_id
        assert Schedule.objects.owned_by(other_user).get(scheduler_id=obj.scheduler_id).data == {
            "hijacked": True
        }
        assert Schedule.objects.owned_by(owner).get(scheduler_id=obj.scheduler_id).data == {"n": 1}
    # control: the same request by the owner reaches a real route and the object
    assert _call(api, row, kind.ref(obj)).status_code not in (404, 405)


@dataclass(frozen=True)
class Listing:
    kind: str
    path: str
    items_key: str
    item_ref: Callable[[dict], str]


LISTINGS: list[Listing] = [
    Listing("job", "/jobs", "jobs", lambda item: str(item["id"])),
    Listing("schedule", "/jobs/schedule", "scheduledJobs", lambda item: item["schedulerId"]),
    Listing("webhook", "/webhooks", "webhooks", lambda item: str(item["id"])),
    Listing("api_key", "/auth/api-keys", "apiKeys", lambda item: str(item["id"])),
]


@pytest.mark.parametrize("listing", LISTINGS, ids=[x.path for x in LISTINGS])
def test_lists_show_only_the_callers_objects(db, owner, other_user, api, other_api, listing):
    kind = KINDS[listing.kind]
    mine, theirs = kind.make(owner), kind.make(other_user)
    for client, own, foreign in ((api, mine, theirs), (other_api, theirs, mine)):
        res = client.get(listing.path)
        assert res.status_code == 200
        refs = [listing.item_ref(item) for item in res.json()[listing.items_key]]
        assert refs == [kind.ref(own)]
        assert kind.ref(foreign) not in refs
