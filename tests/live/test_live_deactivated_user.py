"""A deactivated user's open websockets are closed (4401) and receive nothing more (issue 13, item 7)."""

from __future__ import annotations

import pytest

from jobs.models import Job
from jobs.realtime import publish_job_event

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_open_socket_of_a_deactivated_user_is_closed_and_receives_nothing(owner, live_socket):
    sock = live_socket(owner)
    job = Job.objects.create(owner=owner, name="echo", data={})
    publish_job_event(job, "active")
    assert sock.receive()["event"] == "active"
    owner.is_active = False
    owner.save()
    assert sock.output() == {"type": "websocket.close", "code": 4401}
    publish_job_event(job, "completed", result=1)
    assert sock.nothing(1.0)


def test_socket_of_a_user_deactivated_without_signals_is_closed_at_its_next_heartbeat(
    owner, live_socket, settings
):
    settings.LIVE_PING_SECONDS = 0.3
    sock = live_socket(owner)
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)  # a bulk update sends no signal
    while (message := sock.output(10))["type"] != "websocket.close":
        assert '"event": "ping"' in message["text"]  # only heartbeats until the close
    assert message == {"type": "websocket.close", "code": 4401}
