"""Shared bits of the page tests: a signed-in Django test client and a complete schedule form POST."""

from django.test import Client

# The webhook forms' refusal of an unknown event type (every EventType, flows' included).
EVENT_TYPE_CHOICES = "Must be one of progress, completed, failed, delta, all, flow.completed, flow.failed"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def schedule_form(**overrides) -> dict:
    """Every field of the schedule page form, as a browser posts it (empty = not given)."""
    body = {
        "name": "echo",
        "data": '{"msg": "hi"}',
        "kind": "cron",
        "cron_expression": "30 2 * * *",
        "time_zone": "Europe/Berlin",
        "every": "",
        "every_unit": "s",
        "at": "",
        "start_at": "",
        "end_at": "",
        "limit": "",
        "overlap": "allow",
        "options": "",
        "preview_from": "",
    }
    body.update(overrides)
    return body
