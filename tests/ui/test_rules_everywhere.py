"""One rule, three entry points: each schedule rule is refused through the REST API (POST
/jobs/schedule), the page form (/app/schedules/new/) and the Django admin add form alike; the same for
webhook rules (POST /webhooks, /app/webhooks/, the webhook admin). The forms say it in their own
words (issue 17): the API's message without its JSON path, or, for the interval, in the form's units."""

import pytest

from config.forms import form_words
from scheduling.models import Schedule

from .helpers import EVENT_TYPE_CHOICES, client_for, schedule_form

pytestmark = pytest.mark.django_db

NEVER_FIRES = "schedule.cron: day-of-month 31 never occurs in February"

# (rule, API body overrides, API error key, page/admin form fields, page field, admin field)
RULES = [
    (
        "cron never fires",
        {"schedule": {"cron": "0 0 31 2 *"}},
        "schedule.cron",
        {"cron_expression": "0 0 31 2 *", "time_zone": "UTC"},
        "cron_expression",
        "cron_expression",
    ),
    (
        "bad time zone",
        {"schedule": {"cron": "0 9 * * *", "tz": "Mars/Olympus"}},
        "schedule.tz",
        {"cron_expression": "0 9 * * *", "time_zone": "Mars/Olympus"},
        "time_zone",
        "time_zone",
    ),
    (
        "endDate <= startDate",
        {
            "schedule": {
                "cron": "0 9 * * *",
                "tz": "UTC",
                "startDate": "2031-01-02T00:00:00Z",
                "endDate": "2031-01-01T00:00:00Z",
            }
        },
        "schedule.endDate",
        {
            "cron_expression": "0 9 * * *",
            "time_zone": "UTC",
            "start_at": "2031-01-02T00:00:00",
            "end_at": "2031-01-01T00:00:00",
        },
        "end_at",
        "end_at",
    ),
    (
        "every below minimum",
        {"schedule": {"repeat": {"every": 500}}},
        "schedule.repeat.every",
        {"kind": "every", "every": "500", "every_unit": "ms", "every_ms": "500"},
        "every",
        "every_ms",
    ),
    (
        "immediately with startDate (BullMQ's rule)",
        {"schedule": {"cron": "0 9 * * *", "immediately": True, "startDate": "2031-01-01T00:00:00Z"}},
        "schedule.immediately",
        {
            "cron_expression": "0 9 * * *",
            "time_zone": "UTC",
            "immediately": "on",
            "start_at": "2031-01-01T00:00:00",
        },
        "immediately",
        "immediately",
    ),
    (
        "offset not below every",
        {"schedule": {"repeat": {"every": 5000, "offset": 5000}}},
        "schedule.offset",
        {"kind": "every", "every": "5", "every_unit": "s", "every_ms": "5000", "offset": "5000"},
        "offset",
        "offset",
    ),
    (
        "unknown handler",
        {"name": "nope", "schedule": {"cron": "0 9 * * *"}},
        "name",
        {"name": "nope", "cron_expression": "0 9 * * *", "time_zone": "UTC"},
        "name",
        "name",
    ),
    (
        "unknown option key",
        {"options": {"colour": "red"}, "schedule": {"cron": "0 9 * * *"}},
        "options",
        {"options": '{"colour": "red"}', "cron_expression": "0 9 * * *", "time_zone": "UTC"},
        "options",
        "options",
    ),
]


# Rules the forms word in their own terms rather than as the API's message minus its path.
FORM_WORDS = {
    "every below minimum": ["At least 1 second."],
    "endDate <= startDate": ["Must be after the start."],
}


def test_forms_word_the_rules_without_the_apis_paths(owner):
    errors = client_for(owner).post("/app/schedules/new/", schedule_form(cron_expression="0 0 31 2 *"))
    assert errors.context["form"].errors == {"cron_expression": ["Day-of-month 31 never occurs in February"]}
    half = client_for(owner).post(
        "/app/schedules/new/", schedule_form(kind="every", every="0.5", every_unit="s")
    )
    assert half.context["form"].errors == {"every": ["At least 1 second."]}
    huge = client_for(owner).post(
        "/app/schedules/new/", schedule_form(kind="every", every="4000", every_unit="d")
    )
    assert huge.context["form"].errors == {"every": ["At most 3650 days."]}
    odd = client_for(owner).post(
        "/app/schedules/new/", schedule_form(kind="every", every="1500.5", every_unit="ms")
    )
    assert odd.context["form"].errors == {"every": ["Must be a whole number of milliseconds."]}


def admin_form(owner, **fields) -> dict:
    body = {
        "owner": str(owner.pk),
        "scheduler_id": "",
        "name": "echo",
        "data": "{}",
        "options": "",
        "kind": "cron",
        "cron_expression": "",
        "time_zone": "UTC",
        "every_ms": "",
        "at": "",
        "start_at": "",
        "end_at": "",
        "limit": "",
        "overlap": "allow",
    }
    body.update(fields)
    return body


@pytest.mark.parametrize(
    "rule, api_body, api_key, fields, page_field, admin_field", RULES, ids=[r[0] for r in RULES]
)
def test_rule_is_refused_identically_in_api_form_and_admin(
    owner, admin_user, api, rule, api_body, api_key, fields, page_field, admin_field
):
    body = {"name": "echo", "data": {}, **api_body}
    res = api.post("/jobs/schedule", body, format="json")
    assert res.status_code == 400, res.json()
    api_errors = res.json()["errors"]
    assert list(api_errors) == [api_key]
    message = api_errors[api_key]
    assert res.json()["message"] == message[0]

    shown = FORM_WORDS.get(rule) or [form_words(api_key, m) for m in message]
    page = client_for(owner).post("/app/schedules/new/", schedule_form(**{"options": "", **fields}))
    assert page.status_code == 200
    assert page.context["form"].errors == {page_field: shown}

    admin = client_for(admin_user).post("/admin/scheduling/schedule/add/", admin_form(owner, **fields))
    assert admin.status_code == 200
    assert admin.context["adminform"].form.errors == {admin_field: shown}

    assert not Schedule.objects.exists()


def test_never_firing_cron_message_names_the_rule(api):
    res = api.post(
        "/jobs/schedule", {"name": "echo", "data": {}, "schedule": {"cron": "0 0 31 2 *"}}, format="json"
    )
    assert res.json()["errors"] == {"schedule.cron": [NEVER_FIRES]}


WEBHOOK_RULES = [
    # (rule, url, event type, error key of the API, of the page form and of the admin form)
    ("private network", "http://10.0.0.1/x", "all", "url", "url", "url"),
    ("not http", "ftp://example.com/x", "all", "url", "url", "url"),
    ("unknown event type", "http://127.0.0.1:9/x", "started", "eventType", "event_type", "event_type"),
]


@pytest.mark.parametrize(("rule", "url", "event_type", "api_key", "page_key", "admin_key"), WEBHOOK_RULES)
def test_webhook_rule_is_the_same_through_api_page_and_admin(
    owner, admin_user, settings, rule, url, event_type, api_key, page_key, admin_key
):
    from tests.conftest import api_for
    from webhooks.models import Webhook

    settings.ALLOW_PRIVATE_NETWORK_TARGETS = rule != "private network"
    api = api_for(owner).post("/webhooks", {"url": url, "eventType": event_type}, format="json")
    page = client_for(owner).post("/app/webhooks/", {"url": url, "event_type": event_type})
    admin = client_for(admin_user).post(
        "/admin/webhooks/webhook/add/",
        {"owner": str(owner.pk), "url": url, "event_type": event_type, "description": "", "active": "on"},
    )
    page_errors = page.context["form"].errors[page_key]
    assert page_errors == admin.context["adminform"].form.errors[admin_key]
    if rule == "unknown event type":
        # The API's serializer refuses an unknown choice before the service, in DRF's words.
        assert api.json()["errors"][api_key] == ['"started" is not a valid choice.']
        assert page_errors == [EVENT_TYPE_CHOICES]
    else:
        assert [form_words(api_key, m) for m in api.json()["errors"][api_key]] == page_errors
    assert api.status_code == 400 and Webhook.objects.count() == 0
