"""/webhooks: create (secret shown once), list, update, delete, rotate, SSRF refusals, ownership."""

import pytest
from django.test import override_settings

from webhooks import signing
from webhooks.models import Delivery, DeliveryState, Webhook

pytestmark = pytest.mark.django_db

ALLOW = override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)


def _create(api, url="http://127.0.0.1:9/hook", event_type="completed", **extra):
    with ALLOW:
        return api.post("/webhooks", {"url": url, "eventType": event_type, **extra}, format="json")


def test_create_returns_the_webhook_with_its_secret_once(api, owner):
    res = _create(api, description="CI notifications")
    assert res.status_code == 201
    body = res.json()["webhook"]
    row = Webhook.objects.get(pk=int(body["id"]))
    assert body == {
        "id": row.pk,  # an integer, as the original's (job-monitor.html compares with ===)
        "userId": owner.pk,
        "legacy": False,
        "url": "http://127.0.0.1:9/hook",
        "eventType": "completed",
        "description": "CI notifications",
        "active": True,
        "disabledReason": None,
        "disabledAt": None,
        "consecutiveFailures": 0,
        "createdAt": body["createdAt"],
        "updatedAt": body["updatedAt"],
        "secret": row.secret,
        "standardSecret": signing.standard_secret(row.secret),
    }
    assert row.owner == owner and row.secret.startswith("whk_")
    listed = api.get("/webhooks").json()
    assert [w["id"] for w in listed["webhooks"]] == [row.pk]
    assert "secret" not in listed["webhooks"][0]
    assert "secret" not in api.get(f"/webhooks/{row.pk}/").json()["webhook"]


def test_duplicate_url_and_event_type_is_409_but_another_event_type_is_fine(api):
    assert _create(api).status_code == 201
    dup = _create(api)
    assert dup.status_code == 409
    assert dup.json()["message"] == (
        "url: you already have a webhook for http://127.0.0.1:9/hook and eventType 'completed'"
    )
    assert _create(api, event_type="all").status_code == 201


def test_the_same_url_for_two_users_is_fine(api, other_api):
    assert _create(api).status_code == 201
    assert _create(other_api).status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "http://127.0.0.1:9/", "eventType": "started"}, "eventType"),
        ({"url": "http://127.0.0.1:9/"}, "eventType"),
        ({"eventType": "all"}, "url"),
        ({"url": "ftp://example.com/x", "eventType": "all"}, "url"),
        ({"url": "not a url", "eventType": "all"}, "url"),
        ({"url": "http://user:pw@127.0.0.1:9/", "eventType": "all"}, "url"),
        ({"url": "http://127.0.0.1:9/", "eventType": "all", "description": "x" * 501}, "description"),
    ],
)
def test_bad_input_is_400_naming_the_field(api, payload, field):
    with ALLOW:
        res = api.post("/webhooks", payload, format="json")
    assert res.status_code == 400
    assert list(res.json()["errors"]) == [field]
    assert Webhook.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://localhost/x",
        "http://192.168.1.10/x",
        "http://metadata.google.internal/x",
    ],
)
def test_private_network_targets_are_refused_when_the_setting_is_off(api, url):
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False):
        res = api.post("/webhooks", {"url": url, "eventType": "all"}, format="json")
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["url"]
    assert res.json()["message"].startswith("url: ")
    assert Webhook.objects.count() == 0


def test_update_changes_fields_rechecks_the_url_and_reenables(api):
    wid = _create(api).json()["webhook"]["id"]
    with ALLOW:
        res = api.put(f"/webhooks/{wid}", {"eventType": "failed", "description": "d"}, format="json")
    assert res.status_code == 200
    assert (res.json()["webhook"]["eventType"], res.json()["webhook"]["description"]) == ("failed", "d")
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False):
        bad = api.put(f"/webhooks/{wid}", {"url": "http://10.0.0.1/x"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["url"]
    Webhook.objects.filter(pk=wid).update(
        active=False,
        consecutive_failures=20,
        disabled_reason="disabled after 20 consecutive failed deliveries",
    )
    assert api.get(f"/webhooks/{wid}").json()["webhook"]["disabledReason"] == (
        "disabled after 20 consecutive failed deliveries"
    )
    with ALLOW:
        back = api.put(f"/webhooks/{wid}/", {"active": True}, format="json").json()["webhook"]
    assert (back["active"], back["consecutiveFailures"], back["disabledReason"]) == (True, 0, None)


def test_update_to_an_existing_combination_is_409(api):
    _create(api, event_type="all")
    wid = _create(api).json()["webhook"]["id"]
    with ALLOW:
        res = api.put(f"/webhooks/{wid}", {"eventType": "all"}, format="json")
    assert res.status_code == 409


def test_delete_removes_the_webhook_and_its_deliveries(api):
    wid = _create(api).json()["webhook"]["id"]
    Delivery.objects.create(webhook_id=wid, event_id="msg_1", event_type="completed", payload={})
    res = api.delete(f"/webhooks/{wid}")
    assert (res.status_code, res.json()) == (200, {"message": "Webhook deleted successfully"})
    assert Webhook.objects.count() == 0 and Delivery.objects.count() == 0
    assert api.delete(f"/webhooks/{wid}").status_code == 404


def test_rotate_secret_returns_a_new_secret_once(api):
    created = _create(api).json()["webhook"]
    res = api.post(f"/webhooks/{created['id']}/rotate-secret")
    assert res.status_code == 200
    new = res.json()["webhook"]["secret"]
    assert new.startswith("whk_") and new != created["secret"]
    assert Webhook.objects.get(pk=created["id"]).secret == new


def test_deliveries_are_paginated_newest_first(api):
    wid = int(_create(api).json()["webhook"]["id"])
    for n in range(3):
        Delivery.objects.create(webhook_id=wid, event_id=f"msg_{n}", event_type="completed", payload={"n": n})
    res = api.get(f"/webhooks/{wid}/deliveries?limit=2")
    assert res.status_code == 200
    body = res.json()
    assert [d["eventId"] for d in body["deliveries"]] == ["msg_2", "msg_1"]
    assert body["pagination"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    assert body["deliveries"][0]["payload"] == {"n": 2} and body["deliveries"][0]["attempts"] == []
    assert api.get(f"/webhooks/{wid}/deliveries?state=failed").json()["pagination"]["total"] == 0
    assert api.get(f"/webhooks/{wid}/deliveries?state=nope").status_code == 400
    assert api.get(f"/webhooks/{wid}/deliveries?limit=0").status_code == 400


def test_redeliver_of_a_delivery_still_being_sent_is_409(api):
    wid = int(_create(api).json()["webhook"]["id"])
    row = Delivery.objects.create(webhook_id=wid, event_id="msg_1", event_type="completed", payload={})
    res = api.post(f"/webhooks/{wid}/deliveries/{row.pk}/redeliver")
    assert res.status_code == 409
    assert res.json()["message"] == "delivery: still being sent; redeliver it once it has succeeded or failed"


def test_outsider_gets_404_on_every_route_of_someone_elses_webhook(api, other_api):
    wid = int(_create(api).json()["webhook"]["id"])
    row = Delivery.objects.create(
        webhook_id=wid, event_id="msg_1", event_type="completed", payload={}, state=DeliveryState.FAILED
    )
    with ALLOW:
        calls = [
            other_api.get(f"/webhooks/{wid}"),
            other_api.put(f"/webhooks/{wid}", {"description": "mine"}, format="json"),
            other_api.delete(f"/webhooks/{wid}"),
            other_api.post(f"/webhooks/{wid}/test"),
            other_api.post(f"/webhooks/{wid}/rotate-secret"),
            other_api.get(f"/webhooks/{wid}/deliveries"),
            other_api.get(f"/webhooks/{wid}/deliveries/{row.pk}"),
            other_api.post(f"/webhooks/{wid}/deliveries/{row.pk}/redeliver"),
        ]
    assert [c.status_code for c in calls] == [404] * len(calls)
    assert calls[0].json() == {"message": "Not found.", "errors": {}}
    assert other_api.get("/webhooks").json() == {"webhooks": []}
    assert Webhook.objects.get(pk=wid).description == "" and Delivery.objects.count() == 1


def test_a_delivery_of_another_webhook_is_404_even_for_its_owner(api):
    first = int(_create(api).json()["webhook"]["id"])
    second = int(_create(api, event_type="all").json()["webhook"]["id"])
    row = Delivery.objects.create(webhook_id=first, event_id="msg_1", event_type="completed", payload={})
    assert api.get(f"/webhooks/{second}/deliveries/{row.pk}").status_code == 404
    assert api.get("/webhooks/abc").status_code == 404


def test_anonymous_is_401(client):
    assert client.get("/webhooks").status_code == 401
