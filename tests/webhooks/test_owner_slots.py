"""The per-owner cap on deliveries in flight (``webhooks.slots``), against the suite's real Redis."""

from __future__ import annotations

import base64
import json
import time

import pytest

from config.redis_client import redis_client
from webhooks import slots

pytestmark = pytest.mark.usefixtures("_cap_one")


@pytest.fixture
def _cap_one(settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_OWNER = 1


def _published_deliver_calls() -> list[tuple[list, dict]]:
    """``(args, kwargs)`` of every ``deliver`` message waiting on the broker's ``webhooks`` lists."""
    client = redis_client()
    calls = []
    for key in client.scan_iter("webhooks*"):
        if client.type(key) != b"list":
            continue
        for raw in client.lrange(key, 0, -1):
            message = json.loads(raw)
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            calls.append((args, kwargs))
    return calls


def test_owner_at_the_cap_waits_and_is_published_again_when_the_slot_frees():
    with slots.owner_slot(7, 100) as first:
        with slots.owner_slot(7, 101) as second:
            assert (first, second) == (True, False)
            assert slots.in_flight(7) == 1
            assert _published_deliver_calls() == []
    assert slots.in_flight(7) == 0
    assert _published_deliver_calls() == [([101], {"owner_id": 7})]


def test_other_owners_are_not_held_by_a_full_owner():
    with slots.owner_slot(7, 100) as first, slots.owner_slot(8, 200) as other:
        assert (first, other) == (True, True)


def test_a_dead_workers_slot_frees_when_its_lease_expires():
    client = redis_client()
    client.zadd("jobserver:webhooks:inflight:7", {"killed-worker": int(time.time() * 1000) - 1})
    with slots.owner_slot(7, 100) as granted:
        assert granted is True


def test_no_cap_when_the_setting_is_zero(settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_OWNER = 0
    with slots.owner_slot(7, 100) as first, slots.owner_slot(7, 101) as second:
        assert (first, second) == (True, True)
    assert slots.in_flight(7) == 0

