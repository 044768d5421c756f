"""Django admin for webhooks (through the services, secret never listed, owner scoping) and deliveries
(read-only log with attempts inline, filters, "redeliver" action), and delivery counts on the Queues board."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryState, Webhook

from .helpers import client_for

pytestmark = pytest.mark.django_db

WEBHOOKS = "/admin/webhooks/webhook/"
DELIVERIES = "/admin/webhooks/delivery/"


@pytest.fixture(autouse=True)
def _allow_private(settings):
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user(
        "staff", "staff@example.test", "S3cure-pass-staff", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="webhooks"))
    return user


def make_webhook(owner, url="http://127.0.0.1:9/hook", event_type="completed") -> Webhook:
    return services.webhook_create(owner=owner, url=url, event_type=event_type)


def make_delivery(webhook, state=DeliveryState.FAILED, event_type="completed", **extra) -> Delivery:
    """A delivery as the fan-out and a worker leave it (created directly: these tests need no sending)."""
    finished = state in (DeliveryState.SUCCEEDED, DeliveryState.FAILED)
    return Delivery.objects.create(
        webhook=webhook,
        event_id=f"msg_{Delivery.objects.count() + 1}",
        event_type=event_type,
        job_id=7,
        payload={"id": 7, "eventType": event_type},
        state=state,
        attempts_made=1 if finished else 0,
        max_attempts=8,
        finished_at=timezone.now() if finished else None,
        **extra,
    )


def admin_form(**overrides) -> dict:
    return {
        "url": "http://127.0.0.1:9/hook",
        "event_type": "completed",
        "description": "",
        "active": "on",
        **overrides,
    }


def test_webhook_changelist_shows_owner_url_event_active_failures_but_no_secret(admin_user, owner):
    row = make_webhook(owner)
    Webhook.objects.filter(pk=row.pk).update(consecutive_failures=4)
    client = client_for(admin_user)
    res = client.get(WEBHOOKS)
    html = res.content.decode()
    assert res.status_code == 200 and [w.pk for w in res.context["cl"].result_list] == [row.pk]
    assert "http://127.0.0.1:9/hook" in html and ">owner<" in html and ">4<" in html
    assert row.secret not in html
    assert client.get(WEBHOOKS + "?event_type__exact=all").context["cl"].result_count == 0
    assert client.get(WEBHOOKS + "?active__exact=1").context["cl"].result_count == 1
    assert client.get(WEBHOOKS + "?q=127.0.0.1").context["cl"].result_count == 1


def test_secret_is_read_only_in_the_change_form(admin_user, owner):
    row = make_webhook(owner)
    page = client_for(admin_user).get(f"{WEBHOOKS}{row.pk}/change/")
    assert page.status_code == 200
    assert "secret" not in page.context["adminform"].form.fields
    assert row.secret in page.content.decode()  # shown, not editable


def test_add_form_creates_through_the_service(admin_user, owner):
    res = client_for(admin_user).post(WEBHOOKS + "add/", admin_form(owner=str(owner.pk), description="ops"))
    assert res.status_code == 302, res.context["adminform"].form.errors
    row = Webhook.objects.get()
    assert (row.owner, row.url, row.event_type, row.description, row.active) == (
        owner,
        "http://127.0.0.1:9/hook",
        "completed",
        "ops",
        True,
    )
    assert row.secret.startswith("whk_")


def test_add_form_shows_the_services_errors(admin_user, owner, settings):
    make_webhook(owner)
    client = client_for(admin_user)
    dup = client.post(WEBHOOKS + "add/", admin_form(owner=str(owner.pk)))
    assert dup.status_code == 200 and dup.context["adminform"].form.errors == {
        "url": ["You already have a webhook for http://127.0.0.1:9/hook and eventType 'completed'"]
    }
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = False
    private = client.post(WEBHOOKS + "add/", admin_form(owner=str(owner.pk), url="http://10.0.0.1/x"))
    (message,) = private.context["adminform"].form.errors["url"]
    assert message.startswith("Host '10.0.0.1' resolves to a private") and Webhook.objects.count() == 1


def test_change_form_disables_and_reenables_through_the_service(admin_user, owner):
    row = make_webhook(owner)
    client = client_for(admin_user)
    body = admin_form(event_type="all")
    del body["active"]
    assert client.post(f"{WEBHOOKS}{row.pk}/change/", body).status_code == 302
    row.refresh_from_db()
    assert (row.event_type, row.active, row.disabled_reason, row.owner) == (
        "all",
        False,
        "disabled by its owner",
        owner,
    )
    assert client.post(f"{WEBHOOKS}{row.pk}/change/", admin_form(event_type="all")).status_code == 302
    row.refresh_from_db()
    assert (row.active, row.disabled_reason) == (True, "")


def test_staff_see_only_their_own_webhooks_and_deliveries(staff, owner):
    mine = make_webhook(staff)
    theirs = make_webhook(owner)
    my_delivery = make_delivery(mine)
    make_delivery(theirs)
    client = client_for(staff)
    assert [w.pk for w in client.get(WEBHOOKS).context["cl"].result_list] == [mine.pk]
    assert [d.pk for d in client.get(DELIVERIES).context["cl"].result_list] == [my_delivery.pk]
    assert client.get(f"{WEBHOOKS}{theirs.pk}/change/").status_code == 302  # "doesn't exist"
    assert list(client.get(WEBHOOKS + "add/").context["adminform"].form.fields["owner"].queryset) == [staff]


def test_delivery_admin_is_a_read_only_log_with_attempts_and_filters(admin_user, owner):
    hook = make_webhook(owner)
    failed = make_delivery(hook, last_status_code=503, last_error="HTTP 503")
    DeliveryAttempt.objects.create(
        delivery=failed,
        number=1,
        started_at=timezone.now(),
        status_code=503,
        latency_ms=42,
        error="HTTP 503",
        response_body="try later",
    )
    make_delivery(hook, state=DeliveryState.SUCCEEDED, event_type="progress")
    client = client_for(admin_user)
    assert [d.pk for d in client.get(DELIVERIES + "?state__exact=failed").context["cl"].result_list] == [
        failed.pk
    ]
    assert client.get(DELIVERIES + "?event_type=progress").context["cl"].result_count == 1
    page = client.get(f"{DELIVERIES}{failed.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in html
    assert "try later" in html and "42" in html
    assert client.get(DELIVERIES + "add/").status_code == 403
    choices = [name for name, _ in client.get(DELIVERIES).context["action_form"].fields["action"].choices]
    assert choices == ["", "redeliver"]


def test_redeliver_action_sends_finished_deliveries_again(admin_user, owner):
    hook = make_webhook(owner)
    failed = make_delivery(hook)
    pending = make_delivery(hook, state=DeliveryState.PENDING)
    res = client_for(admin_user).post(
        DELIVERIES, {"action": "redeliver", "_selected_action": [str(failed.pk), str(pending.pk)]}
    )
    assert res.status_code == 302
    new = Delivery.objects.exclude(pk__in=[failed.pk, pending.pk]).get()
    assert (new.event_id, new.redelivery_of_id, new.state, new.manual) == (
        failed.event_id,
        failed.pk,
        "pending",
        True,
    )


def test_queues_board_counts_deliveries_by_state(admin_user, staff, owner):
    hook = make_webhook(owner)
    for state in (DeliveryState.FAILED, DeliveryState.FAILED, DeliveryState.SUCCEEDED, DeliveryState.PENDING):
        make_delivery(hook, state=state)
    make_delivery(make_webhook(staff), state=DeliveryState.SUCCEEDED)
    res = client_for(admin_user).get("/admin/queues/")
    rows = {r["name"]: r for r in res.context["rows"]}
    assert rows["webhooks"]["counts"] == [("pending", 1), ("sending", 0), ("succeeded", 2), ("failed", 2)]
    assert '<td data-state="failed"><a href="/admin/webhooks/delivery/?state__exact=failed">2</a>' in (
        res.content.decode()
    )
    staff_rows = {r["name"]: r for r in client_for(staff).get("/admin/queues/").context["rows"]}
    assert staff_rows["webhooks"]["counts"] == [
        ("pending", 0),
        ("sending", 0),
        ("succeeded", 1),
        ("failed", 0),
    ]
