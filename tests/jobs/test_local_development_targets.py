"""Under ``make run`` (DEBUG) webhooks and ``http.request`` may reach loopback; production refuses."""

import pytest
from django.test import override_settings

from config import netguard
from tests.ui.helpers import client_for

pytestmark = pytest.mark.django_db


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False, ALLOW_LOOPBACK_TARGETS=True)
def test_loopback_is_allowed_but_private_networks_stay_refused():
    assert netguard.resolve("http://127.0.0.1:8000/hooks").address == "127.0.0.1"
    assert netguard.resolve("http://localhost:9000/").address in ("127.0.0.1", "::1")
    with pytest.raises(netguard.UnsafeTarget, match=r"resolves to a private.*\(10\.0\.0\.1\)"):
        netguard.resolve("http://10.0.0.1/")
    with pytest.raises(netguard.UnsafeTarget, match="169.254.169.254"):
        netguard.resolve("http://169.254.169.254/latest/meta-data/")


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False, ALLOW_LOOPBACK_TARGETS=False)
def test_without_the_setting_loopback_is_refused():
    with pytest.raises(netguard.UnsafeTarget, match="127.0.0.1"):
        netguard.resolve("http://127.0.0.1:8000/hooks")


@pytest.mark.parametrize("debug, env, expected", [("1", None, True), ("1", "0", False), ("0", "1", False)])
def test_setting_is_on_only_under_debug(debug, env, expected):
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "ALLOW_LOOPBACK_TARGETS"}
    environ.update(DEBUG=debug, TESTING="0", SECRET_KEY="x" * 50)
    if env is not None:
        environ["ALLOW_LOOPBACK_TARGETS"] = env
    out = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.ALLOW_LOOPBACK_TARGETS)"],
        env=environ, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert out == str(expected)


def test_webhooks_page_says_when_loopback_is_allowed(owner, settings):
    settings.ALLOW_LOOPBACK_TARGETS = True
    html = client_for(owner).get("/app/webhooks/").content.decode()
    assert 'id="loopback-banner"' in html and "ALLOW_LOOPBACK_TARGETS" in html
    settings.ALLOW_LOOPBACK_TARGETS = False
    assert 'id="loopback-banner"' not in client_for(owner).get("/app/webhooks/").content.decode()


@pytest.mark.parametrize("debug, said", [("1", True), ("0", False)])
def test_make_run_says_so_at_start_up(monkeypatch, debug, said):
    from config.devstack import loopback_notice

    monkeypatch.delenv("ALLOW_LOOPBACK_TARGETS", raising=False)
    monkeypatch.setenv("DEBUG", debug)
    monkeypatch.setenv("TESTING", "0")
    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    notice = loopback_notice()
    assert (notice is not None) == said
    if said:
        assert notice.startswith("local development: webhooks and http.request may call loopback addresses")
