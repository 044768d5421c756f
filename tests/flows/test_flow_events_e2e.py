"""A flow's events reach its owner only: the native websocket (/ws/jobs/), Socket.IO (both rooms),
webhooks ``flow.completed`` / ``flow.failed`` at a real receiver, and the flow page in Chromium
following the live states. One uvicorn server and one worker for the module."""

from __future__ import annotations

import pytest

from flows.models import Flow
from jobs.models import Job
from tests.compat.test_socketio import Recorder, token
from tests.conftest import api_for, wait_until, web_and_worker
from tests.flows.conftest import FLOW_HANDLERS_ENV
from tests.live.conftest import api_call, login_browser
from tests.webhooks.conftest import Receiver
from webhooks.models import Delivery

pytestmark = [pytest.mark.e2e]

ENV = {
    **FLOW_HANDLERS_ENV,
    "ALLOW_PRIVATE_NETWORK_TARGETS": "1",
    "SOCKETIO_PING_INTERVAL_S": "2",
    "SOCKETIO_PING_TIMEOUT_S": "3",
}

PAIR = {
    "flowname": "pair",
    "name": "test.sum",
    "data": {"add": 1},
    "children": [{"name": "test.value", "data": {"value": 2}}, {"name": "test.value", "data": {"value": 3}}],
}


@pytest.fixture(scope="module")
def stack(django_db_setup):
    with web_and_worker(ENV, queues="jobs,webhooks", name="flows-events", **ENV) as stack:
        yield stack


def _create(web, user, tree) -> str:
    status, body = api_call(web.base, "POST", "/flows", user, tree)
    assert status == 201
    return body["flowId"]


def _completed(flow_id: str) -> bool:
    return Flow.objects.filter(flow_id=flow_id, status="completed").exists()


def test_native_socket_gets_the_owners_flow_events_and_the_other_user_none(
    transactional_db, stack, owner, other_user, live_socket
):
    web, worker = stack
    mine = live_socket(owner)
    theirs = live_socket(other_user)
    flow_id = _create(web, owner, PAIR)
    seen = mine.receive_until(lambda m: m.get("event") == "flow:completed", 60)
    events = [m["event"] for m in seen if m.get("flowId") == flow_id]
    assert events[0] == "flow:created"
    assert {"flow:job:updated", "flow:updated", "flow:completed", "waiting", "active", "completed"} <= set(
        events
    )
    assert seen[-1] == {
        "event": "flow:completed",
        "flowId": flow_id,
        "completedAt": seen[-1]["completedAt"],
        "result": {"sum": 6, "children": 2, "ignored": []},
    }
    created = next(m for m in seen if m["event"] == "flow:created")
    assert (created["flowname"], created["status"], created["progress"]["total"]) == ("pair", "pending", 3)
    updates = [m for m in seen if m["event"] == "flow:updated"]
    assert updates[-1]["status"] == "completed" and updates[-1]["progress"]["percentage"] == 100
    assert theirs.nothing(1.0)
    # Narrowed to one flow: another user's flow is refused, one's own passes only its events.
    theirs.send({"action": "subscribe", "flowId": flow_id})
    assert theirs.receive() == {
        "event": "error",
        "message": f"flowId: no flow {flow_id!r} of yours",
        "flowId": flow_id,
    }
    mine.send({"action": "subscribe", "flowId": flow_id})
    assert mine.receive() == {"event": "subscribed", "flowId": flow_id}
    other_flow = _create(web, owner, PAIR)
    assert wait_until(lambda: _completed(other_flow), 60)
    status, _ = api_call(web.base, "DELETE", f"/flows/{flow_id}", owner)
    assert status == 200
    narrowed = mine.receive_until(lambda m: m.get("event") == "flow:deleted", 30)
    assert all(m.get("flowId") == flow_id for m in narrowed), narrowed
    assert theirs.nothing(0.5)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_socketio_rooms_get_the_original_flow_events_for_the_owner_only(
    transactional_db, stack, owner, other_user, transport
):
    web, worker = stack
    mine = Recorder(web.base, {"token": token(owner)}, transport)
    theirs = Recorder(web.base, {"token": token(other_user)}, transport)
    try:
        flow_id = _create(
            web,
            owner,
            {
                **PAIR,
                "children": [
                    {"name": "test.value", "data": {"value": 2, "sleepMs": 1500}},
                    {"name": "test.value", "data": {"value": 3}},
                ],
            },
        )
        assert mine.client.call("join-flow", flow_id, timeout=10) == {"ok": True, "flowId": flow_id}
        refusal = theirs.client.call("join-flow", flow_id, timeout=10)
        assert refusal == {
            "ok": False,
            "event": "join-flow",
            "flowId": flow_id,
            "message": f"flowId: no flow {flow_id!r} of yours",
        }
        assert wait_until(lambda: mine.named("flow:finished"), 60)
        assert mine.named("flow:completed") == mine.named("flow:finished")
        finished = mine.named("flow:finished")[0]
        assert (finished["flowId"], finished["result"]) == (flow_id, {"sum": 6, "children": 2, "ignored": []})
        assert mine.named("flow:created")[0]["flowId"] == flow_id
        assert mine.named("flow:progress")[-1]["status"] == "completed"
        jobs = mine.named("flow:job:progress")
        assert {j["jobStatus"] for j in jobs} >= {"active", "completed"}
        assert all(j["flowId"] == flow_id for j in jobs)
        assert theirs.named("error") == [refusal]
        assert not [n for n in theirs.names() if n.startswith("flow:") or n.startswith("job:")]
    finally:
        mine.close()
        theirs.close()


def test_flow_webhooks_reach_the_owners_endpoint_only(transactional_db, stack, owner, other_user, settings):
    web, worker = stack
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True
    receiver = Receiver()
    try:
        for user, path, event in [
            (owner, "/done", "flow.completed"),
            (owner, "/failed", "flow.failed"),
            (other_user, "/theirs", "flow.completed"),
        ]:
            res = api_for(user).post(
                "/webhooks", {"url": receiver.url(path), "eventType": event}, format="json"
            )
            assert res.status_code == 201, res.content
        good = _create(web, owner, PAIR)
        bad = _create(
            web,
            owner,
            {"name": "test.sum", "children": [{"name": "test.boom", "opts": {"failParentOnFailure": True}}]},
        )
        assert wait_until(
            lambda: len(receiver.requests) >= 2 and Delivery.objects.filter(state="succeeded").count() >= 2,
            60,
        ), worker.output()[-3000:]
        done, failed = receiver.bodies("/done"), receiver.bodies("/failed")
        assert [(b["eventType"], b["flowId"], b["status"], b["result"]) for b in done] == [
            ("flow.completed", good, "completed", {"sum": 6, "children": 2, "ignored": []})
        ]
        root = Job.objects.filter(flow_id=bad).order_by("pk").first()
        child = Job.objects.filter(flow_id=bad).order_by("pk").last()
        assert [(b["eventType"], b["flowId"], b["status"], b["error"]) for b in failed] == [
            ("flow.failed", bad, "failed", {"message": f"child {child.pk} failed"})
        ]
        assert root.state == "failed"
        assert done[0]["userId"] == owner.pk
        assert receiver.bodies("/theirs") == []
    finally:
        receiver.stop()


def test_flow_page_follows_the_live_states(transactional_db, stack, owner, other_user, browser_page):
    web, worker = stack
    page = browser_page
    flow_id = _create(
        web,
        owner,
        {
            "flowname": "slow pair",
            "name": "test.sum",
            "children": [
                {"name": "test.value", "data": {"value": 2, "sleepMs": 2500}},
                {"name": "test.value", "data": {"value": 3}},
            ],
        },
    )
    root = Job.objects.filter(flow_id=flow_id).order_by("pk").first()
    login_browser(page, web.base, owner)
    page.goto(web.base + f"/app/flows/{flow_id}/")
    root_badge = page.locator(f'.flow-node[data-job-id="{root.pk}"] > [data-field="state"]')
    assert root_badge.text_content() in ("waiting-children", "waiting", "active", "completed")
    page.wait_for_selector("[data-live-status].completed", timeout=20000)  # the socket is live
    try:
        page.wait_for_function(
            f"""() => document.querySelector('.flow-node[data-job-id="{root.pk}"] > [data-field="state"]')
                   .textContent === 'completed'""",
            timeout=60000,
        )
        page.wait_for_function(
            "() => document.getElementById('flow-status').textContent === 'completed'", timeout=30000
        )
    except Exception:
        states = list(Job.objects.filter(flow_id=flow_id).values_list("pk", "state"))
        shown = page.locator('.flow-node [data-field="state"]').all_text_contents()
        raise AssertionError(
            (Flow.objects.get(flow_id=flow_id).status, states, shown, worker.output()[-2000:])
        ) from None
    assert page.locator(".flow-node").count() == 3
    assert page.locator('.flow-node [data-field="state"]').all_text_contents() == ["completed"] * 3
    page.goto(web.base + "/app/flows/")
    assert (
        page.locator(f'tr[data-flow-id="{flow_id}"] [data-field="flow-status"]').text_content() == "completed"
    )
    # Delete from the page: back to the list, the flow and its jobs gone.
    page.goto(web.base + f"/app/flows/{flow_id}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('button[data-action="delete"]')
    page.wait_for_url(web.base + "/app/flows/")
    assert not Job.objects.filter(flow_id=flow_id).exists()
    # Another user's flow page is a 404.
    other = _create(web, other_user, PAIR)
    response = page.goto(web.base + f"/app/flows/{other}/")
    assert response.status == 404
