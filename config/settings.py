"""Settings, read from environment variables in this one module (12-factor, django-environ).

Variables (all optional unless noted):
- ``DEBUG`` (bool, default off). ``make run`` turns it on for a local machine.
- ``SECRET_KEY``: required unless ``DEBUG``; with ``DEBUG`` and no ``SECRET_KEY``, a random key created
  once in ``var/secret-key`` (or ``SECRET_KEY_FILE``).
- ``DATABASE_URL``: default an SQLite file ``var/db.sqlite3``; e.g. ``postgres://user@host:5432/name``.
- ``REDIS_URL``: broker, channel layer and locks; default ``redis://127.0.0.1:6379/0``.
- ``ALLOWED_HOSTS`` (comma list), ``CSRF_TRUSTED_ORIGINS`` (comma list).
- ``ALLOW_PRIVATE_NETWORK_TARGETS`` (bool, default off): let webhooks and the ``http.request``
  handler reach loopback/private/link-local addresses.
- ``ALLOW_LOOPBACK_TARGETS`` (bool, default on, effective only with ``DEBUG``): let them reach
  loopback addresses for local development.
- ``JOB_MAX_DATA_BYTES`` (default 1 MiB), ``SCHEDULE_MIN_EVERY_MS`` (default 1000).
"""

import hashlib
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("TESTING", default=False)


def _local_secret_key(path: Path) -> str:
    """The key in ``path``, created there once (random, 0600) if absent: what ``make run`` signs with.

    Web, worker and beat start at the same moment: each may try to create the file, and the hard
    link (``os.link`` fails if the name exists) lets exactly one complete file win, which all read.
    """
    for _ in range(100):
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            key = ""
        if key:
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    raise ImproperlyConfigured(f"could not create or read {path}; set SECRET_KEY")


if DEBUG or TESTING:
    # Never a key written in the code (one was public, and a JWT forged with it was accepted): the
    # environment's, else a random one created once under var/ (SECRET_KEY_FILE) and kept across runs.
    SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key(
        Path(env.str("SECRET_KEY_FILE", default="") or VAR_DIR / "secret-key")
    )
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required in production: ImproperlyConfigured if missing

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if (DEBUG or TESTING) else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "corsheaders",
    "accounts",
    "jobs",
    "scheduling",
    "webhooks",
    "flows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# API paths work with and without a trailing slash (the contract); the URL patterns accept both.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one file at once: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        # How long a writer waits for the lock before "database is locked" (503 on the web, a retry in
        # workers: config/dberrors.py).
        "timeout": env.float("SQLITE_BUSY_TIMEOUT_S", default=30.0),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Real worker/beat processes in the tests must open the same file, never an in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
# Connections (issue 13). The web process (ASGI) runs each request's synchronous code in a thread of
# its own, with a connection of its own: a connection kept past its request (CONN_MAX_AGE > 0) is never
# reused and stays open until garbage collection, so a burst of requests opened one backend each until
# PostgreSQL answered "too many clients". So connections end with their request (CONN_MAX_AGE = 0), and
# on PostgreSQL "ending" hands the connection back to a psycopg pool (Django's `pool` option) of at most
# DB_POOL_MAX_SIZE per process: a request beyond that waits up to DB_POOL_TIMEOUT_S for a free one
# (then 503 with Retry-After, config/exceptions.py). Celery processes run one task at a time per
# thread; config/celery.py switches them to persistent connections (CELERY_CONN_MAX_AGE_S, with
# CELERY_DB_REUSE_MAX below), since reopening one per job (SQLite: open + the PRAGMAs above; PostgreSQL:
# a new backend) was the largest single cost of a short job (docs/benchmarks.md). The bound per process
# kind is in docs/deploy.md ("Database connections").
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=2)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
DB_POOL_TIMEOUT_S = env.float("DB_POOL_TIMEOUT_S", default=30.0)
CELERY_CONN_MAX_AGE_S = env.int("CELERY_CONN_MAX_AGE_S", default=60)
# A task that meets a transient database error is published again after 0.5, 1, 2, 4, 8 ... seconds
# (at most TASK_DB_RETRY_MAX_DELAY_S apart), at most TASK_DB_RETRY_MAX times (config/celery.py).
TASK_DB_RETRY_MAX = env.int("TASK_DB_RETRY_MAX", default=20)
TASK_DB_RETRY_MAX_DELAY_S = env.float("TASK_DB_RETRY_MAX_DELAY_S", default=10.0)
DATABASES["default"]["CONN_MAX_AGE"] = 0
# DB_POOL_MAX_SIZE=0: no pool, one connection per request, closed at its end (e.g. behind PgBouncer).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DB_POOL_MIN_SIZE,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT_S,
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from here after collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
# Files served at the site's root (issue 17): /favicon.ico, which browsers ask for on every page.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- Redis: broker, channel layer, locks -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CHANNEL_LAYERS: dict[str, Any] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi")},
    }
}

# --- Celery (see config/celery.py) ---------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Celery's Django fix-up closes every database connection before and after each task unless this is
# set; with it, it closes them every 500 tasks, and config/celery.py closes unusable or expired ones
# (CONN_MAX_AGE) after each task, as Django does after each request.
CELERY_DB_REUSE_MAX = 500
# A worker that dies mid-job must not lose it: acknowledge after the task body, requeue on loss.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "scheduling.beat:ScheduleScheduler"
CELERY_TASK_DEFAULT_QUEUE = "jobs"
CELERY_TASK_ROUTES = {
    "jobs.tasks.*": {"queue": "jobs"},
    "scheduling.tasks.*": {"queue": "schedules"},
    "webhooks.tasks.*": {"queue": "webhooks"},
}

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerJWTAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    # Issue 15: JWT_ROTATE_REFRESH_TOKENS=false answers /auth/refresh-token as the original did (a new
    # access token; the refresh token stays valid until it expires). On by default: a stolen refresh
    # token then works once at most.
    "ROTATE_REFRESH_TOKENS": env.bool("JWT_ROTATE_REFRESH_TOKENS", default=True),
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "USER_ID_CLAIM": "userId",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Job server API",
    "DESCRIPTION": "Background and scheduled jobs (cron, interval, one-time) with live status and webhooks.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Product settings -----------------------------------------------------------------------------
ALLOW_PRIVATE_NETWORK_TARGETS = env.bool("ALLOW_PRIVATE_NETWORK_TARGETS", default=False)
# Local development (issue 17): under DEBUG (make run) webhooks and http.request may reach loopback
# addresses (127.0.0.0/8, ::1, localhost) so a receiver on the developer's machine works. Never on
# without DEBUG: production keeps refusing them (ALLOW_PRIVATE_NETWORK_TARGETS is the operator's knob).
ALLOW_LOOPBACK_TARGETS = DEBUG and env.bool("ALLOW_LOOPBACK_TARGETS", default=True)
JOB_MAX_DATA_BYTES = env.int("JOB_MAX_DATA_BYTES", default=1024 * 1024)
# Leave room for the JSON envelope around `data` so an oversized submission reaches our 413, not Django's 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = JOB_MAX_DATA_BYTES * 4
JOB_DEFAULT_OPTIONS = {"attempts": 1}
JOB_HANDLER_MODULES = env.list("JOB_HANDLER_MODULES", default=[])
SCHEDULE_MIN_EVERY_MS = env.int("SCHEDULE_MIN_EVERY_MS", default=1000)

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Beat -------------------------------------------------------------------------------------------
BEAT_MAX_SLEEP_S = env.float("BEAT_MAX_SLEEP_S", default=0.5)  # bounds change-to-effect latency
BEAT_LEADER_TTL_S = env.float("BEAT_LEADER_TTL_S", default=5.0)
BEAT_BATCH_SIZE = env.int("BEAT_BATCH_SIZE", default=1000)
CELERY_BEAT_MAX_LOOP_INTERVAL = BEAT_MAX_SLEEP_S

# --- Issue 5: accounts and access (caches, throttles, email, production security) -----------------
# One cache in Redis so throttle counters are shared by every web process. Two servers (two databases)
# sharing one Redis must not share counters, so the key prefix defaults to one derived from the database.
_db = DATABASES["default"]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str(
            "CACHE_KEY_PREFIX",
            default="js-" + hashlib.sha256(
                f"{_db['ENGINE']}|{_db.get('HOST', '')}|{_db.get('PORT', '')}|{_db['NAME']}".encode()
            ).hexdigest()[:10],
        ),
    }
}

# Per client address: the socket's, or with NUM_PROXIES = N >= 1 the N-th X-Forwarded-For entry from the
# right (accounts/throttling.py); "N/second|minute|hour|day".
REST_FRAMEWORK["NUM_PROXIES"] = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "login": env.str("THROTTLE_LOGIN", default="10/minute"),
    "register": env.str("THROTTLE_REGISTER", default="30/hour"),
    "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="5/hour"),
    "password_reset_confirm": env.str("THROTTLE_PASSWORD_RESET_CONFIRM", default="10/hour"),
}

# Mail (password reset): console unless EMAIL_URL (e.g. smtp+tls://user:pass@host:587) or EMAIL_HOST is set.
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="jobserver <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 60 * 60)  # seconds

# API keys: last-used time is written at most once per this many seconds per key (cheap hot path).
API_KEY_LAST_USED_RESOLUTION_S = env.int("API_KEY_LAST_USED_RESOLUTION_S", default=60)

# Production security. Safe defaults when DEBUG is off; each can be overridden by env for unusual set-ups
# (e.g. SECURE_SSL_REDIRECT=0 when the proxy already redirects). `manage.py check --deploy` is clean with
# DEBUG=0, a long random SECRET_KEY and ALLOWED_HOSTS set (see README, "Production").
_prod = not (DEBUG or TESTING)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_prod)
# Load balancers and orchestrators probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_prod)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_prod)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _prod else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_prod)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_prod)
if env.bool("BEHIND_PROXY", default=False):
    # Only behind a proxy that sets X-Forwarded-Proto itself and strips any client-sent value.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if TESTING:
    # Tests log in hundreds of times; PBKDF2's deliberate slowness would dominate the suite (Django's advice).
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# --- Live updates (issue 7) ---------------------------------------------------------------------------
# progress/delta events of one job are merged for this long before they are sent (jobs/realtime.py).
LIVE_COALESCE_MS = env.int("LIVE_COALESCE_MS", default=50)
# How long a publish waits for the channel layer before giving up (the job's outcome is stored anyway).
LIVE_SEND_TIMEOUT_S = env.float("LIVE_SEND_TIMEOUT_S", default=5.0)
# Application-level {"event": "ping"} to idle sockets; dead sockets are dropped by uvicorn's ws ping.
LIVE_PING_SECONDS = env.float("LIVE_PING_SECONDS", default=25.0)
# redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis' blocking BZPOPMIN
# (brpop_timeout 5 s): every idle websocket's receive then raised TimeoutError and the socket dropped
# every ~5 s (django/channels_redis#422). A longer read timeout still notices a dead Redis.
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{"address": REDIS_URL, "socket_timeout": 15}]
# --- Issue 8: pages and admin ------------------------------------------------------------------------
# Pages show times in the viewer's zone: the profile's choice, else the browser's (cookie `tz`), else UTC.
MIDDLEWARE += ["accounts.time_zone.ViewerTimeZoneMiddleware"]
# --- Issue 6: webhooks (webhooks/) ----------------------------------------------------------------
# Timeout of one delivery request (connect and each read), seconds.
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)
# Delay before attempt n+1 is entry n (seconds, the last repeats), times a random factor in
# [1-jitter, 1+jitter]; see webhooks/backoff.py. Tests and checks shorten it by env.
WEBHOOK_BACKOFF_SCHEDULE_S = env.list(
    "WEBHOOK_BACKOFF_SCHEDULE_S", cast=float, default=[5, 30, 300, 1800, 7200, 18000, 36000]
)
WEBHOOK_BACKOFF_JITTER = env.float("WEBHOOK_BACKOFF_JITTER", default=0.2)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Retries due within this many seconds ride on a Celery countdown (well under the Redis visibility
# timeout of 1 h); later ones wait in the database and the periodic sweep below publishes them.
WEBHOOK_MAX_COUNTDOWN_S = env.float("WEBHOOK_MAX_COUNTDOWN_S", default=600.0)
WEBHOOK_RETRY_SWEEP_S = env.float("WEBHOOK_RETRY_SWEEP_S", default=15.0)
# A due delivery whose task message is this late (lost, or never published) is published again.
WEBHOOK_RETRY_GRACE_S = env.float("WEBHOOK_RETRY_GRACE_S", default=60.0)
# A delivery claimed this long ago without an outcome (worker died mid-request) is retried.
WEBHOOK_STALE_SENDING_S = env.float("WEBHOOK_STALE_SENDING_S", default=300.0)
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=20)
# Progress and delta events of one job are coalesced per window: at most one delivery per job,
# event type and window (latest progress value; deltas concatenated in order).
WEBHOOK_COALESCE_WINDOW_S = env.float("WEBHOOK_COALESCE_WINDOW_S", default=1.0)
WEBHOOK_RESPONSE_BODY_MAX_BYTES = env.int("WEBHOOK_RESPONSE_BODY_MAX_BYTES", default=2048)
# Attempts of one owner's deliveries in flight at once, across every webhook worker (0: no cap). A delivery
# beyond it waits (pending) until one of that owner's attempts ends (webhooks/slots.py), so one user's
# hanging receivers hold at most this many of the webhook workers' slots.
WEBHOOK_MAX_IN_FLIGHT_PER_OWNER = env.int("WEBHOOK_MAX_IN_FLIGHT_PER_OWNER", default=2)
# Finished deliveries older than this are deleted hourly (0: keep forever).
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "webhooks: send due delivery retries": {
        "task": "webhooks.tasks.send_due_retries",
        "schedule": WEBHOOK_RETRY_SWEEP_S,
    },
    "webhooks: prune old deliveries": {"task": "webhooks.tasks.prune_deliveries", "schedule": 3600.0},
}
# --- Issue 9: API docs, errors, operations ------------------------------------------------------------
# OpenAPI: paths and shapes of API.md (config/openapi/), both auth schemes, offline Swagger UI/ReDoc.
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "config.openapi.schema.ContractAutoSchema"
SPECTACULAR_SETTINGS.update(
    {
        "PREPROCESSING_HOOKS": ["config.openapi.schema.contract_paths"],
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "config.openapi.schema.strings_without_nul",
        ],
        "COMPONENT_SPLIT_REQUEST": True,
        "ENUM_NAME_OVERRIDES": {
            "JobStateEnum": "jobs.models.JobState",
            "ScheduleStateEnum": "scheduling.models.ScheduleState",
            "DeliveryStateEnum": "webhooks.models.DeliveryState",
            "HealthStatusEnum": ["ok"],
            "ReadinessStatusEnum": ["ok", "fail"],
        },
        "TAGS": [
            {"name": "auth", "description": "Accounts, tokens and API keys."},
            {"name": "jobs", "description": "Submit and follow jobs."},
            {"name": "schedules", "description": "Cron, interval and one-time schedules."},
            {"name": "webhooks", "description": "Signed HTTP callbacks for job events, with a delivery log."},
            {
                "name": "operations",
                "description": "Health, readiness and Prometheus metrics (no credentials).",
            },
        ],
    }
)
# One error shape outside DRF views too, and a request id on every log record and response.
MIDDLEWARE.insert(0, "config.logs.RequestIdMiddleware")
MIDDLEWARE.insert(1, "config.exceptions.ApiErrorMiddleware")
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["config.parsers.StrictJSONParser"]
# LOG_FORMAT=json: one JSON object per line with request_id, job_id, schedule_id (config/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
LOGGING["filters"] = {"context": {"()": "config.logs.ContextFilter"}}
LOGGING["formatters"]["json"] = {"()": "config.logs.JsonFormatter"}
LOGGING["handlers"]["console"]["filters"] = ["context"]
if LOG_FORMAT == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"
    # uvicorn configures its own loggers before Django starts; route them through ours too.
    for _name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        LOGGING["loggers"][_name] = {"handlers": ["console"], "level": "INFO", "propagate": False}
# /readyz (config/health.py): which checks decide 200/503, timeouts, worker-ping cache.
READYZ_REQUIRED = env.list("READYZ_REQUIRED", default=["database", "redis", "workers", "beat"])
READYZ_TIMEOUT_S = env.float("READYZ_TIMEOUT_S", default=1.0)
READYZ_WORKER_WAIT_S = env.float("READYZ_WORKER_WAIT_S", default=5.0)
READYZ_CACHE_S = env.float("READYZ_CACHE_S", default=5.0)
# --- Named queues (issue 16; jobs/named_queues.py, docs/queues.md) ---------------------------------------
# The job queues clients may name (BullMQ's queueName). The default is the system we port's queue names;
# JOB_DEFAULT_QUEUE is where a job or schedule that names none goes (Celery queue `jobs`), any other
# queue `<name>` travels on Celery queue `jobs.<name>`.
JOB_QUEUES = env.list("JOB_QUEUES", default=["jobQueue", "schedQueue", "flowQueue"])
JOB_DEFAULT_QUEUE = env.str("JOB_DEFAULT_QUEUE", default="jobQueue")
if JOB_DEFAULT_QUEUE not in JOB_QUEUES:
    JOB_QUEUES = [JOB_DEFAULT_QUEUE, *JOB_QUEUES]
for _name in JOB_QUEUES:
    # /jobs/{queueName}/... must never read as one of our own routes (/jobs/schedule, /jobs/submit, ...).
    _bad = not _name or len(_name) > 64 or not _name.isascii() or any(c in _name for c in "/?#% ,")
    if _bad or _name in ("schedule", "submit", "handlers"):
        raise ImproperlyConfigured(
            f"JOB_QUEUES: {_name!r} cannot name a queue (1-64 ASCII characters without / ? # % , or space; "
            "not schedule, submit or handlers)"
        )
# Workers cache the queues' rate limits this long (seconds): a changed limit applies within it. A pause
# does not wait for it (the claim statement itself skips jobs of a paused queue).
JOB_QUEUE_CONFIG_CACHE_S = env.float("JOB_QUEUE_CONFIG_CACHE_S", default=1.0)
# --- Flows (issue 16; flows/, docs/flows.md) -------------------------------------------------------------
# A flow (POST /flows, a schedule's `flow`) has at most FLOW_MAX_JOBS jobs and FLOW_MAX_DEPTH levels (the
# root is level 1): one request's transaction and the tree a page draws stay bounded.
FLOW_MAX_JOBS = env.int("FLOW_MAX_JOBS", default=1000)
FLOW_MAX_DEPTH = env.int("FLOW_MAX_DEPTH", default=10)
# --- Jobs engine (issue 3) ----------------------------------------------------------------------------
# Broker priorities: ten Redis lists per queue (kombu's Redis transport: BRPOP checks the lists in step
# order, so step 0 is served first). jobs.options.broker_priority maps BullMQ's 0..2,097,152 onto them.
# queue_order_strategy stays round_robin: it only orders the queues (jobs, schedules, webhooks) within
# one priority step, and "priority" there would starve schedule fires and webhooks behind a jobs backlog.
CELERY_BROKER_TRANSPORT_OPTIONS = {"priority_steps": list(range(10))}
# A running job's worker refreshes `heartbeat_at` this often (seconds) from a thread.
JOB_HEARTBEAT_S = env.float("JOB_HEARTBEAT_S", default=5.0)
# An active job whose own heartbeat is older than this is treated as lost with its worker (the stalled
# rule below); a dead worker is usually noticed sooner through its registry heartbeat.
JOB_STALE_AFTER_S = env.float("JOB_STALE_AFTER_S", default=60.0)
# A waiting job published longer ago than this is published again (its message may be gone, e.g. Redis
# restarted empty); a duplicate message is harmless because claiming is a conditional UPDATE.
JOB_REQUEUE_WAITING_AFTER_S = env.float("JOB_REQUEUE_WAITING_AFTER_S", default=300.0)
# How often beat's leader runs that reconciliation (seconds). Promotion of due delayed jobs runs every tick.
JOB_RECONCILE_EVERY_S = env.float("JOB_RECONCILE_EVERY_S", default=5.0)
# Stalled jobs (issue 13; jobs/workers.py): each worker's main process marks itself alive in Redis this
# often (s); one silent for JOB_WORKER_DEAD_AFTER_S is dead and the reconciler hands its jobs back. A job
# whose worker died goes back to waiting without spending an attempt at most JOB_MAX_STALLED times
# (BullMQ's maxStalledCount, default 1), then fails "job stalled more than allowable limit".
JOB_WORKER_HEARTBEAT_S = env.float("JOB_WORKER_HEARTBEAT_S", default=2.0)
JOB_WORKER_DEAD_AFTER_S = env.float("JOB_WORKER_DEAD_AFTER_S", default=15.0)
JOB_MAX_STALLED = env.int("JOB_MAX_STALLED", default=1)
# Batches (issue 14; jobs/batches.py, docs/runtime.md): jobs made runnable together travel as run_jobs
# messages of at most JOB_BATCH_SIZE ids; a process running a batch hands its unstarted jobs back after
# JOB_BATCH_SLICE_S (s) so a slow handler never holds back the jobs behind it, and writes completions at
# least every JOB_BATCH_FLUSH_S (s).
JOB_BATCH_SIZE = env.int("JOB_BATCH_SIZE", default=100)
JOB_BATCH_SLICE_S = env.float("JOB_BATCH_SLICE_S", default=0.25)
JOB_BATCH_FLUSH_S = env.float("JOB_BATCH_FLUSH_S", default=0.05)
JOB_MAINTENANCE_BATCH_SIZE = env.int("JOB_MAINTENANCE_BATCH_SIZE", default=500)
# `timeout` is Celery's soft time limit; the hard limit (child process killed) comes this much later.
JOB_TIMEOUT_GRACE_S = env.float("JOB_TIMEOUT_GRACE_S", default=5.0)
# Bounds on what one job stores from its handler (live events are not bounded).
JOB_MAX_LOG_LINES = env.int("JOB_MAX_LOG_LINES", default=1000)
JOB_MAX_OUTPUT_BYTES = env.int("JOB_MAX_OUTPUT_BYTES", default=1024 * 1024)
# Deltas and log lines are written to the database at most this often (seconds), and when the job ends.
JOB_FLUSH_EVERY_S = env.float("JOB_FLUSH_EVERY_S", default=0.5)
JOB_HTTP_MAX_BODY_BYTES = env.int("JOB_HTTP_MAX_BODY_BYTES", default=64 * 1024)

# --- Issue 15: the original's clients (CORS, Socket.IO, handler aliases) ------------------------------
# django-cors-headers. Default: any origin, without credentials (bearer tokens and API keys travel in
# headers a page sets itself; cookies never cross origins), so file:// pages (Origin "null") work as with
# the original. CORS_ALLOWED_ORIGINS (comma list, "null" for file:// pages) restricts it to those origins.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_ALL_ORIGINS = not CORS_ALLOWED_ORIGINS
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "accept", "authorization", "content-type", "origin", "user-agent", "x-requested-with", "x-api-key",
)
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID"]
# As high as possible, so pre-flights are answered before authentication, throttles or redirects.
MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")
# Job names of the original's clients mapped onto registered handlers, e.g. "testJob=echo,exampleJob=echo":
# a submitted name must still resolve to a handler (no unknown name ever runs).
JOB_HANDLER_ALIASES = env.dict("JOB_HANDLER_ALIASES", default={})
# Socket.IO (jobs/socketio_app.py): the engine.io ping interval and timeout, seconds (its defaults).
SOCKETIO_PING_INTERVAL_S = env.float("SOCKETIO_PING_INTERVAL_S", default=25.0)
SOCKETIO_PING_TIMEOUT_S = env.float("SOCKETIO_PING_TIMEOUT_S", default=20.0)
