"""Webhook pages: list and create form (secret shown once), test/rotate/enable/disable/delete buttons,
the delivery log with attempts and redeliver, the API's rules and messages, other users' objects 404."""

import pytest
from django.test import Client
from django.utils.html import escape

from config.forms import form_words
from tests.conftest import api_for
from tests.webhooks.conftest import Receiver
from webhooks import services, signing
from webhooks.models import Delivery, DeliveryState, Webhook

from .helpers import EVENT_TYPE_CHOICES, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def allow_private(settings):
    """The receiver runs on loopback, which the SSRF guard refuses unless the operator allows it."""
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def make_webhook(owner, url="http://127.0.0.1:9/hook", event_type="completed", **extra) -> Webhook:
    return services.webhook_create(owner=owner, url=url, event_type=event_type, **extra)


def form(**overrides) -> dict:
    return {"url": "http://127.0.0.1:9/hook", "event_type": "completed", "description": "CI", **overrides}


def test_anonymous_is_sent_to_login():
    res = Client().get("/app/webhooks/")
    assert res.status_code == 302 and res["Location"] == "/login/?next=/app/webhooks/"


def test_nav_links_to_webhooks_and_api_keys(owner):
    html = client_for(owner).get("/").content.decode()
    assert '<a href="/app/webhooks/">Webhooks</a>' in html and '<a href="/app/api-keys/">API keys</a>' in html


def test_create_shows_the_secret_once_then_lists_the_webhook(owner, allow_private):
    client = client_for(owner)
    res = client.post("/app/webhooks/", form())
    row = Webhook.objects.get(owner=owner)
    assert res.status_code == 302 and res["Location"] == "/app/webhooks/"
    assert (row.url, row.event_type, row.description, row.active) == (
        "http://127.0.0.1:9/hook",
        "completed",
        "CI",
        True,
    )
    first = client.get("/app/webhooks/")
    html = first.content.decode()
    assert first.context["secret"] == {
        "id": row.pk,
        "secret": row.secret,
        "standard": signing.standard_secret(row.secret),
    }
    assert f'value="{row.secret}"' in html and "http://127.0.0.1:9/hook" in html
    again = client.get("/app/webhooks/")
    assert again.context["secret"] is None and row.secret not in again.content.decode()
    assert [w.pk for w in again.context["webhooks"]] == [row.pk]


def test_list_shows_state_disabled_reason_and_failures_of_own_webhooks_only(owner, other_user, allow_private):
    mine = make_webhook(owner)
    make_webhook(other_user, url="http://127.0.0.1:9/theirs")
    Webhook.objects.filter(pk=mine.pk).update(
        active=False,
        consecutive_failures=20,
        disabled_reason="disabled after 20 consecutive failed deliveries",
    )
    res = client_for(owner).get("/app/webhooks/")
    html = res.content.decode()
    assert [w.pk for w in res.context["webhooks"]] == [mine.pk]
    assert "disabled after 20 consecutive failed deliveries" in html
    assert "20 consecutive failures" in html and ">disabled<" in html and "/theirs" not in html


def test_private_url_is_refused_with_the_apis_rule_in_the_forms_words(owner, settings):
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = False
    api = api_for(owner).post("/webhooks", {"url": "http://10.0.0.1/x", "eventType": "all"}, format="json")
    res = client_for(owner).post("/app/webhooks/", form(url="http://10.0.0.1/x", event_type="all"))
    assert res.status_code == 200 and Webhook.objects.count() == 0
    assert res.context["form"].errors == {"url": [form_words("url", api.json()["errors"]["url"][0])]}
    assert res.context["form"].errors["url"][0].startswith("Host '10.0.0.1' resolves to a private")
    assert escape(res.context["form"].errors["url"][0]) in res.content.decode()


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"url": ""}, {"url": ["This field is required."]}),
        ({"url": "ftp://example.com/x"}, {"url": ["Only http and https URLs are allowed"]}),
        (
            {"event_type": "started"},
            {"event_type": [EVENT_TYPE_CHOICES]},
        ),
    ],
)
def test_field_errors_are_shown_inline(owner, allow_private, fields, errors):
    res = client_for(owner).post("/app/webhooks/", form(**fields))
    assert res.status_code == 200 and res.context["form"].errors == errors
    assert Webhook.objects.count() == 0
    assert 'class="field-error"' in res.content.decode()


def test_duplicate_url_and_event_type_is_a_form_error(owner, allow_private):
    make_webhook(owner)
    res = client_for(owner).post("/app/webhooks/", form())
    assert res.status_code == 200 and Webhook.objects.count() == 1
    assert res.context["form"].errors == {
        "url": ["You already have a webhook for http://127.0.0.1:9/hook and eventType 'completed'"]
    }


def test_test_button_sends_a_ping_and_shows_its_outcome(owner, allow_private, receiver):
    row = make_webhook(owner, url=receiver.url())
    client = client_for(owner)
    res = client.post(f"/app/webhooks/{row.pk}/test/")
    assert res.status_code == 302 and res["Location"] == f"/app/webhooks/{row.pk}/"
    assert [b["eventType"] for b in receiver.bodies()] == ["ping"]
    page = client.get(res["Location"])
    messages = [str(m) for m in page.context["messages"]]
    assert len(messages) == 1 and messages[0].startswith("Test ping delivered: HTTP 200 in ")
    (delivery,) = page.context["deliveries"]
    assert (delivery.event_type, delivery.state, delivery.last_status_code) == ("ping", "succeeded", 200)
    assert "answer 200" in page.content.decode()


def test_test_button_shows_a_failure(owner, allow_private):
    receiver = Receiver(default=500)
    try:
        row = make_webhook(owner, url=receiver.url())
        client = client_for(owner)
        client.post(f"/app/webhooks/{row.pk}/test/")
        page = client.get(f"/app/webhooks/{row.pk}/")
    finally:
        receiver.stop()
    assert [str(m) for m in page.context["messages"]] == ["Test ping failed: HTTP 500."]
    assert Delivery.objects.get().state == DeliveryState.FAILED


def test_rotate_shows_the_new_secret_once(owner, allow_private):
    row = make_webhook(owner)
    old = row.secret
    client = client_for(owner)
    res = client.post(f"/app/webhooks/{row.pk}/rotate/", {"back": "detail"})
    assert res.status_code == 302 and res["Location"] == f"/app/webhooks/{row.pk}/"
    row.refresh_from_db()
    assert row.secret != old
    assert client.get(res["Location"]).context["secret"]["secret"] == row.secret
    assert client.get(res["Location"]).context["secret"] is None


def test_disable_and_enable_through_the_service(owner, allow_private):
    row = make_webhook(owner)
    client = client_for(owner)
    assert client.post(f"/app/webhooks/{row.pk}/disable/")["Location"] == "/app/webhooks/"
    row.refresh_from_db()
    assert (row.active, row.disabled_reason) == (False, "disabled by its owner")
    Webhook.objects.filter(pk=row.pk).update(consecutive_failures=3)
    client.post(f"/app/webhooks/{row.pk}/enable/")
    row.refresh_from_db()
    assert (row.active, row.consecutive_failures, row.disabled_reason) == (True, 0, "")


def test_delete_removes_the_webhook_and_its_log(owner, allow_private, receiver):
    row = make_webhook(owner, url=receiver.url())
    services.webhook_test(webhook=row)
    res = client_for(owner).post(f"/app/webhooks/{row.pk}/delete/")
    assert res.status_code == 302 and res["Location"] == "/app/webhooks/"
    assert Webhook.objects.count() == 0 and Delivery.objects.count() == 0


def test_actions_are_post_only_and_unknown_actions_404(owner, allow_private):
    row = make_webhook(owner)
    client = client_for(owner)
    assert client.get(f"/app/webhooks/{row.pk}/delete/").status_code == 405
    assert client.post(f"/app/webhooks/{row.pk}/explode/").status_code == 404
    assert Webhook.objects.count() == 1


def test_delivery_log_shows_attempts_and_is_paginated(owner, allow_private, receiver):
    receiver.plan = [503]
    row = make_webhook(owner, url=receiver.url())
    for _ in range(21):
        services.webhook_test(webhook=row)
    client = client_for(owner)
    first = client.get(f"/app/webhooks/{row.pk}/")
    newest = Delivery.objects.order_by("-id")
    assert [d.pk for d in first.context["deliveries"]] == [d.pk for d in newest[:20]]
    assert first.context["page"].paginator.num_pages == 2
    second = client.get(f"/app/webhooks/{row.pk}/?page=2")
    (oldest,) = second.context["deliveries"]
    assert (oldest.state, oldest.last_status_code, oldest.last_error) == ("failed", 503, "HTTP 503")
    html = second.content.decode()
    (attempt,) = oldest.attempts.all()
    assert f"{attempt.latency_ms} ms" in html and "answer 503" in html and "HTTP 503" in html
    assert '<time datetime="' in html and "Redeliver" in html
    failed_only = client.get(f"/app/webhooks/{row.pk}/?state=failed")
    assert [d.pk for d in failed_only.context["deliveries"]] == [oldest.pk]


def test_redeliver_creates_a_new_delivery_with_the_same_event_id(owner, allow_private, receiver):
    row = make_webhook(owner, url=receiver.url())
    original = services.webhook_test(webhook=row)
    res = client_for(owner).post(f"/app/webhooks/{row.pk}/deliveries/{original.pk}/redeliver/")
    assert res.status_code == 302 and res["Location"] == f"/app/webhooks/{row.pk}/"
    new = Delivery.objects.exclude(pk=original.pk).get()
    assert (new.event_id, new.redelivery_of_id, new.state, new.manual) == (
        original.event_id,
        original.pk,
        "pending",
        True,
    )


def test_redeliver_of_a_pending_delivery_is_refused_with_a_message(owner, allow_private, receiver):
    row = make_webhook(owner, url=receiver.url())
    pending = services.delivery_redeliver(delivery=services.webhook_test(webhook=row))
    client = client_for(owner)
    client.post(f"/app/webhooks/{row.pk}/deliveries/{pending.pk}/redeliver/")
    page = client.get(f"/app/webhooks/{row.pk}/")
    assert [str(m) for m in page.context["messages"]] == [
        f"Delivery {pending.pk}: delivery: still being sent; redeliver it once it has succeeded or failed"
    ]
    assert Delivery.objects.count() == 2


def test_other_users_webhooks_and_deliveries_are_404(owner, other_user, allow_private, receiver):
    theirs = make_webhook(other_user, url=receiver.url())
    their_delivery = services.webhook_test(webhook=theirs)
    mine = make_webhook(owner)
    client = client_for(owner)
    assert client.get(f"/app/webhooks/{theirs.pk}/").status_code == 404
    assert client.get("/app/webhooks/nope/").status_code == 404
    for action in ("test", "rotate", "enable", "disable", "delete"):
        assert client.post(f"/app/webhooks/{theirs.pk}/{action}/").status_code == 404
    for wid in (theirs.pk, mine.pk):
        url = f"/app/webhooks/{wid}/deliveries/{their_delivery.pk}/redeliver/"
        assert client.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.active and Webhook.objects.count() == 2 and Delivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_forms_carry_csrf_protection(owner, allow_private):
    row = make_webhook(owner)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/app/webhooks/{row.pk}/delete/").status_code == 403
    assert client.post("/app/webhooks/", form(url="http://127.0.0.1:9/other")).status_code == 403
    html = client.get("/app/webhooks/").content.decode()
    # log out, create, and the webhook's test, rotate, disable and delete buttons
    assert html.count('name="csrfmiddlewaretoken"') == 6
    assert Webhook.objects.count() == 1


def test_enabling_a_webhook_whose_url_is_now_refused_shows_the_reason(owner, settings):
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True
    row = make_webhook(owner)
    services.webhook_update(webhook=row, active=False)
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = False
    client = client_for(owner)
    res = client.post(f"/app/webhooks/{row.pk}/enable/", {"back": "detail"})
    assert res.status_code == 302 and res["Location"] == f"/app/webhooks/{row.pk}/"
    (message,) = [str(m) for m in client.get(res["Location"]).context["messages"]]
    assert message.startswith("url: host '127.0.0.1' resolves to a private")
    row.refresh_from_db()
    assert row.active is False


def test_too_long_url_gets_the_services_message(owner, allow_private):
    res = client_for(owner).post("/app/webhooks/", form(url="http://127.0.0.1:9/" + "x" * 2000))
    assert res.context["form"].errors == {"url": ["At most 2000 characters"]}
