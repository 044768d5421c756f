"""`manage.py check --deploy` is clean in the documented production configuration (README, "Production")."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "jobs.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://jobs.example.com",
    "BEHIND_PROXY": "1",
}


def _deploy_check(extra: dict[str, str]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TESTING", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(extra)
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _issues(output: str) -> list[str]:
    # paths relative to the checkout, so "accounts/" means our app whatever the checkout is called
    return [line.replace(f"{BASE_DIR}/", "") for line in output.splitlines() if re.match(r"^\S*: \(", line)]


def test_deploy_check_is_clean_in_the_documented_production_configuration():
    code, output = _deploy_check(PRODUCTION_ENV)
    issues = _issues(output)
    # drf-spectacular's schema check also runs under --deploy; its warnings about views of other apps
    # (missing serializer hints for the OpenAPI document) are about documentation, not deployment
    # safety, and belong to those apps. Everything else, and anything about accounts, must be clean.
    foreign_schema = [i for i in issues if "(drf_spectacular." in i and "accounts" not in i]
    assert [i for i in issues if i not in foreign_schema] == [], output
    if not foreign_schema:
        assert code == 0 and "System check identified no issues" in output, output


def test_deploy_check_flags_debug_and_a_weak_secret():
    code, output = _deploy_check({**PRODUCTION_ENV, "DEBUG": "1", "SECRET_KEY": "short"})
    assert code == 1
    assert "(security.W018)" in output and "(security.W009)" in output


def test_production_requires_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    code, output = _deploy_check({**env, "SECRET_KEY": ""})
    assert code == 1
    assert "ImproperlyConfigured" in output or "SECRET_KEY" in output
