"""``make run`` (DEBUG, no SECRET_KEY) signs with a random key created once under var/, never with a key
written in the code: a token forged with the old public default is refused (issue 13, item 7)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from tests.conftest import BASE_DIR, WebServer

OLD_PUBLIC_DEFAULT = "insecure-dev-key-do-not-use-in-production-0123456789"


def _debug_env(key_file) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "TESTING")}
    return {**env, "DEBUG": "1", "SECRET_KEY_FILE": str(key_file)}


def _secret_key(key_file) -> str:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SECRET_KEY)"],
        cwd=BASE_DIR, env={**_debug_env(key_file), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()


def test_debug_without_secret_key_creates_a_random_key_once(tmp_path):
    key_file = tmp_path / "var" / "secret-key"
    first = _secret_key(key_file)
    assert len(first) >= 50 and first != OLD_PUBLIC_DEFAULT
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _secret_key(key_file) == first  # kept across restarts: sessions and tokens stay valid


def test_processes_starting_together_agree_on_one_key(tmp_path):
    key_file = tmp_path / "secret-key"
    with ThreadPoolExecutor(4) as pool:
        keys = set(pool.map(lambda _: _secret_key(key_file), range(4)))
    assert keys == {key_file.read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["secret-key"]  # no drafts left behind


def test_the_code_holds_no_default_key():
    assert OLD_PUBLIC_DEFAULT not in (BASE_DIR / "config" / "settings.py").read_text()


@pytest.mark.e2e
def test_live_debug_server_refuses_a_token_forged_with_the_old_public_key(transactional_db, owner, tmp_path):
    key_file = tmp_path / "secret-key"
    web = WebServer(DEBUG="1", SECRET_KEY_FILE=str(key_file), SECRET_KEY="")
    try:
        now = timezone.now()
        claims = {"token_type": "access", "exp": now + timedelta(minutes=5), "iat": now, "jti": "forged",
                  "userId": owner.pk}
        forged = jwt.encode(claims, OLD_PUBLIC_DEFAULT, algorithm="HS256")
        genuine = jwt.encode(claims, key_file.read_text().strip(), algorithm="HS256")
        assert (_status(web, forged), _status(web, genuine)) == (401, 200)
    finally:
        web.stop()


def _status(web: WebServer, token: str) -> int:
    request = urllib.request.Request(web.base + "/auth/me", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
