"""docker-compose.yml starts what `make run` starts: the Procfile's processes with the same programs,
options and queues, every setting the app reads, migrations first, and a worker that scales.

No Docker engine runs here, so the file is parsed (PyYAML) and compared with the Procfile,
config/settings.py, the Celery queues and .env.example; the Dockerfile is read for what it promises.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from config.celery import ALL_JOB_QUEUES
from config.celery import app as celery_app
from jobs import named_queues

BASE_DIR = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "webhooks", "beat")
# Read by the test run only (config/devstack.py sets it for `make test`), never by a deployment.
TEST_ONLY_SETTINGS = {"TESTING"}
_PROCFILE_VARIABLE = re.compile(r"\$\{(\w+)(?::-[^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def procfile() -> dict[str, str]:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def settings_variables() -> set[str]:
    """Names of the environment variables config/settings.py reads (``env.<type>("NAME", ...)``)."""
    source = (BASE_DIR / "config" / "settings.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source)) - TEST_ONLY_SETTINGS


def command_tokens(command) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def matches_procfile(procfile_line: str, command) -> bool:
    """Same tokens in the same order, where a Procfile ``${VAR:-default}`` stands for any value
    (compose binds 0.0.0.0:8000 in its container where make run binds 127.0.0.1:$PORT)."""
    slot = "@@VARIABLE@@"
    tokens = shlex.split(_PROCFILE_VARIABLE.sub(slot, procfile_line))
    pattern = " ".join(re.escape(token).replace(re.escape(slot), r"\S+") for token in tokens)
    return re.fullmatch(pattern, " ".join(command_tokens(command))) is not None


def test_compose_runs_each_procfile_process_with_the_same_command(compose):
    processes = procfile()
    assert set(processes) == set(APP_SERVICES)
    for name, line in processes.items():
        assert matches_procfile(line, compose["services"][name]["command"]), (name, line)


def _queues(command) -> set[str]:
    tokens = command_tokens(command)
    return set(tokens[tokens.index("-Q") + 1].split(","))


def test_workers_consume_every_celery_queue_and_webhooks_run_apart_from_jobs(compose):
    job_queues = _queues(compose["services"]["worker"]["command"])
    webhook_queues = _queues(compose["services"]["webhooks"]["command"])
    # Deliveries on their own processes: a hanging receiver can never hold a job slot (issue 13).
    assert (job_queues, webhook_queues) == ({ALL_JOB_QUEUES, "schedules"}, {"webhooks"})
    # jobs.* is every named job queue's Celery queue (config.celery), the default queue's `jobs` first.
    queues = (job_queues - {ALL_JOB_QUEUES}) | set(named_queues.celery_queues()) | webhook_queues
    assert named_queues.celery_queues() == ["jobs", "jobs.schedQueue", "jobs.flowQueue"]
    assert {q.name for q in celery_app.conf.task_queues} == {"jobs", "schedules", "webhooks"}
    assert queues == {"jobs", "jobs.schedQueue", "jobs.flowQueue", "schedules", "webhooks"}
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} <= queues


def test_every_app_service_gets_every_setting_the_app_reads(compose):
    expected = settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_FORMAT"} <= expected
    for name in (*APP_SERVICES, "migrate", "flower"):
        assert set(compose["services"][name]["environment"]) == expected, name


def test_env_example_lists_every_setting_and_procfile_variable():
    lines = (BASE_DIR / ".env.example").read_text().splitlines()
    listed = {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line)}
    procfile_variables = {v for line in procfile().values() for v in _PROCFILE_VARIABLE.findall(line)}
    # HOST is where make run binds; in a container the web always binds 0.0.0.0.
    assert settings_variables() | (procfile_variables - {"HOST"}) <= listed
    assert listed - settings_variables() - procfile_variables == {"FLOWER_PORT"}


def test_worker_scales_and_services_are_health_checked(compose):
    services = compose["services"]
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert "container_name" not in services["webhooks"] and "ports" not in services["webhooks"]
    for name in ("web", "worker", "webhooks", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    for name in APP_SERVICES:
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name
    assert command_tokens(services["migrate"]["command"]) == ["python", "manage.py", "migrate", "--noinput"]
    assert set(compose["volumes"]) == {"redis-data", "pg-data"}


def test_flower_is_an_optional_profile_built_with_its_extra(compose):
    flower = compose["services"]["flower"]
    assert flower["profiles"] == ["flower"]
    assert flower["build"]["args"] == {"WITH_FLOWER": "true"}
    assert all("profiles" not in compose["services"][name] for name in APP_SERVICES)
    pyproject = (BASE_DIR / "pyproject.toml").read_text()
    dependencies = pyproject.split("[project.optional-dependencies]")[0]
    assert "flower" not in dependencies.lower()
    assert re.search(r'^flower = \["flower>=2,<3"\]$', pyproject, re.M)


def test_dockerfile_installs_from_pyproject_collects_static_and_drops_root():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert 'pip install ".[flower]"; else pip install .; fi' in dockerfile
    assert "python manage.py collectstatic --noinput" in dockerfile
    assert re.search(r"^USER app$", dockerfile, re.M)
    for directory in ("config", "accounts", "jobs", "scheduling", "webhooks", "templates", "static"):
        assert f"COPY {directory}/ {directory}/" in dockerfile
