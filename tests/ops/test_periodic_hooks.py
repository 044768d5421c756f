"""Beat runs the periodic hooks apps register (issue 18, item 3: ``config.periodic``) instead of
calling into their code: each hook at most every ``every_s``, a failing one never stops the others,
and beat sleeps no longer than the soonest hook wants."""

import pytest

from config import periodic
from config.periodic import PeriodicRunner
from jobs import maintenance


@pytest.fixture
def hooks(monkeypatch):
    """An empty registry for the test (the apps' hooks are restored afterwards)."""
    monkeypatch.setattr(periodic, "_HOOKS", {})
    return periodic


def test_the_jobs_app_registers_its_promoter_and_reconciler():
    names = [hook.name for hook in periodic.registered()]
    assert names[:2] == ["jobs: promote due delayed jobs", "jobs: reconcile"]


def test_the_reconciler_runs_every_job_reconcile_every_s(settings):
    reconcile = next(hook for hook in periodic.registered() if hook.name == "jobs: reconcile")
    settings.JOB_RECONCILE_EVERY_S = 7.5
    assert reconcile.interval_s() == 7.5


@pytest.mark.django_db
def test_the_registered_promoter_and_reconciler_do_the_jobs_work(monkeypatch):
    calls = []
    monkeypatch.setattr(maintenance, "jobs_promote_due", lambda cap: calls.append(("promote", cap)) or 0.25)
    monkeypatch.setattr(maintenance, "jobs_reconcile", lambda: calls.append(("reconcile", None)) or {})
    assert PeriodicRunner().run_due(cap=2.0) == 0.25
    assert calls == [("promote", 2.0), ("reconcile", None)]


def test_each_hook_runs_when_due_and_beat_sleeps_until_the_soonest(hooks, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(periodic.time, "monotonic", lambda: clock[0])
    calls = []
    hooks.register("every tick", 0, lambda cap: calls.append("tick") or 0.75)
    hooks.register("every 10 s", 10, lambda cap: calls.append("ten") or None)
    runner = PeriodicRunner()
    assert runner.run_due(cap=5.0) == 0.75
    assert calls == ["tick", "ten"]
    clock[0] += 4
    assert runner.run_due(cap=5.0) == 0.75
    assert calls == ["tick", "ten", "tick"]
    clock[0] += 6
    runner.run_due(cap=5.0)
    assert calls == ["tick", "ten", "tick", "tick", "ten"]


def test_a_waiting_hook_shortens_the_sleep_to_its_next_run(hooks, monkeypatch):
    clock = [50.0]
    monkeypatch.setattr(periodic.time, "monotonic", lambda: clock[0])
    hooks.register("every 3 s", 3, lambda cap: None)
    runner = PeriodicRunner()
    assert runner.run_due(cap=5.0) == 3.0
    clock[0] += 2
    assert runner.run_due(cap=5.0) == 1.0


def test_a_failing_hook_is_logged_and_the_others_still_run(hooks, caplog):
    calls = []

    def broken(cap):
        raise RuntimeError("disk on fire")

    hooks.register("broken", 0, broken)
    hooks.register("fine", 0, lambda cap: calls.append(cap) or 0.5)
    assert PeriodicRunner().run_due(cap=1.0) == 0.5
    assert calls == [1.0]
    assert any(
        r.getMessage() == "periodic hook 'broken' failed; it runs again when next due" for r in caplog.records
    )


def test_registering_a_name_again_replaces_its_hook(hooks):
    hooks.register("one", 1, lambda cap: None)
    hooks.register("two", 2, lambda cap: None)
    hooks.register("one", 5, lambda cap: None)
    assert [(h.name, h.interval_s()) for h in hooks.registered()] == [("one", 5.0), ("two", 2.0)]
