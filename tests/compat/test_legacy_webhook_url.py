"""The legacy ``user.webhookUrl`` of registration receives ``completed`` events as the original did, through
our webhook machinery: signed, retried, logged (issue 15, Deliver 4). Real worker, real HTTP receiver."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from tests.conftest import start_worker, wait_until
from tests.webhooks.conftest import Receiver
from webhooks import signing
from webhooks.models import Delivery, Webhook

pytestmark = [pytest.mark.e2e]


def test_register_with_a_private_webhook_url_is_refused_naming_the_rule_and_creates_no_user(
    db, django_user_model
):
    res = APIClient().post(
        "/register",
        {"username": "carol", "password": "S3cure-pass-carol", "webhookUrl": "http://127.0.0.1:9/hook"},
        format="json",
    )
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["webhookUrl"]
    assert "ALLOW_PRIVATE_NETWORK_TARGETS" in res.json()["errors"]["webhookUrl"][0]
    assert not django_user_model.objects.filter(username="carol").exists()


def test_completed_event_reaches_the_registered_webhook_url_signed_retried_and_logged(
    transactional_db, settings
):
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True
    receiver = Receiver()
    receiver.plan = [500]  # the first attempt fails: the delivery is retried
    worker = start_worker(
        name="legacy-webhook-worker",
        ALLOW_PRIVATE_NETWORK_TARGETS="1",
        WEBHOOK_BACKOFF_SCHEDULE_S="0.5",
        WEBHOOK_BACKOFF_JITTER="0",
    )
    try:
        anon = APIClient()
        registered = anon.post(
            "/register",
            {"username": "dave", "password": "S3cure-pass-dave", "webhookUrl": receiver.url("/legacy")},
            format="json",
        ).json()
        assert registered["user"]["webhookUrl"] == receiver.url("/legacy")
        hook = Webhook.objects.get(owner_id=registered["user"]["id"])
        assert (hook.legacy, hook.event_type, hook.url) == (True, "completed", receiver.url("/legacy"))
        user = APIClient()
        user.credentials(HTTP_AUTHORIZATION=f"Bearer {registered['accessToken']}")
        job_id = user.post("/submit-job", {"name": "echo", "data": {"n": 7}}, format="json").json()["jobId"]
        done = wait_until(lambda: Delivery.objects.filter(state="succeeded").exists(), 60)
        assert done, worker.output()[-3000:]
        delivery = Delivery.objects.get()
        assert (delivery.webhook_id, delivery.attempts_made, delivery.event_type) == (hook.pk, 2, "completed")
        assert [a.status_code for a in delivery.attempts.order_by("number")] == [500, 200]
        (path, headers, body), _ = receiver.requests[-1], None
        assert path == "/legacy"
        payload = json.loads(body)
        # the original's payload keys: {id, jobname, userId, eventType, result}
        assert (payload["id"], payload["jobname"], payload["userId"], payload["eventType"]) == (
            job_id,
            "echo",
            registered["user"]["id"],
            "completed",
        )
        assert payload["result"] == {"n": 7}
        hook.refresh_from_db()
        assert signing.verify(hook.secret, headers, body)
        # it is an ordinary webhook: listed, and PUT /webhooks/url moves it
        assert [w["legacy"] for w in user.get("/webhooks").json()["webhooks"]] == [True]
        moved = user.put("/webhooks/url", {"webhookUrl": receiver.url("/moved")}, format="json")
        assert moved.status_code == 200 and Webhook.objects.get(pk=hook.pk).url == receiver.url("/moved")
    finally:
        worker.stop()
        receiver.stop()
