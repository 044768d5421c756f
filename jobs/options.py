"""Job options with BullMQ's names, validated and merged over the server defaults.

Source of the names and meanings: BullMQ ``JobsOptions`` (attempts, backoff, delay, priority, jobId,
timeout, removeOnComplete, removeOnFail). Durations are milliseconds; ``removeOn*.age`` is seconds.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from . import ids

KNOWN_OPTIONS = (
    "attempts",
    "backoff",
    "delay",
    "priority",
    "jobId",
    "timeout",
    "removeOnComplete",
    "removeOnFail",
)
MAX_MS = 10 * 365 * 24 * 3600 * 1000  # ten years: beyond that a number is a mistake, not a delay
MAX_PRIORITY = 2_097_152  # BullMQ's upper bound for priority


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(errors: dict, key: str, value: Any, low: int, high: int, unit: str = "") -> None:
    if not _is_int(value):
        errors[key] = [f"options.{key}: must be an integer{unit}"]
    elif not low <= value <= high:
        errors[key] = [f"options.{key}: must be between {low} and {high}{unit}"]


def _keep_rule(errors: dict, key: str, value: Any) -> None:
    if isinstance(value, bool):
        return
    if _is_int(value):
        if value < 0:
            errors[key] = [f"options.{key}: a count must be >= 0"]
        return
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"count", "age"})
        if unknown:
            errors[key] = [f"options.{key}: unknown keys {', '.join(unknown)} (allowed: count, age)"]
            return
        for sub in ("count", "age"):
            if sub in value and (not _is_int(value[sub]) or value[sub] < 0):
                errors[key] = [f"options.{key}.{sub}: must be an integer >= 0"]
                return
        return
    errors[key] = [f"options.{key}: must be true/false, a count, or {{count, age}}"]


def validate_options(options: Any) -> dict:
    """Validate caller options and return them merged over ``JOB_DEFAULT_OPTIONS``.

    ``options``: a dict with a subset of :data:`KNOWN_OPTIONS`, or ``None``.
    Raises ``ValidationError({"options": [...]})`` naming each unknown key and each wrong value.
    """
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ValidationError({"options": ["options: must be an object"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(options) - set(KNOWN_OPTIONS))
    if unknown:
        errors["unknown"] = [
            f"options: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(KNOWN_OPTIONS)}"
        ]
    if "attempts" in options:
        _int_in(errors, "attempts", options["attempts"], 1, 1000)
    if "backoff" in options:
        backoff = options["backoff"]
        if _is_int(backoff):
            if not 0 <= backoff <= MAX_MS:
                errors["backoff"] = [f"options.backoff: must be between 0 and {MAX_MS} ms"]
        elif isinstance(backoff, dict):
            extra = sorted(set(backoff) - {"type", "delay"})
            if extra:
                errors["backoff"] = [
                    f"options.backoff: unknown keys {', '.join(extra)} (allowed: type, delay)"
                ]
            elif backoff.get("type") not in ("fixed", "exponential"):
                errors["backoff"] = ["options.backoff.type: must be 'fixed' or 'exponential'"]
            elif "delay" in backoff:
                _int_in(errors, "backoff", backoff["delay"], 0, MAX_MS, " ms")
        else:
            errors["backoff"] = [
                "options.backoff: must be a number of ms or {type: fixed|exponential, delay}"
            ]
    if "delay" in options:
        _int_in(errors, "delay", options["delay"], 0, MAX_MS, " ms")
    if "priority" in options:
        _int_in(errors, "priority", options["priority"], 0, MAX_PRIORITY)
    if "timeout" in options:
        _int_in(errors, "timeout", options["timeout"], 1, MAX_MS, " ms")
    if "jobId" in options:
        job_id = options["jobId"]
        if not isinstance(job_id, str | int) or isinstance(job_id, bool) or not str(job_id).strip():
            errors["jobId"] = ["options.jobId: must be a non-empty string"]
        elif len(str(job_id)) > 255:
            errors["jobId"] = ["options.jobId: at most 255 characters"]
        elif ids.parse_repeat_job_id(str(job_id)) is not None:
            errors["jobId"] = [
                "options.jobId: ids of the form repeat:<schedulerId>:<ms> are the ids of schedule fires' jobs"
            ]
    for key in ("removeOnComplete", "removeOnFail"):
        if key in options:
            _keep_rule(errors, key, options[key])
    if errors:
        raise ValidationError({"options": [msg for msgs in errors.values() for msg in msgs]})
    return {**getattr(settings, "JOB_DEFAULT_OPTIONS", {}), **options}


def backoff_delay_ms(backoff: Any, attempts_made: int) -> int:
    """Milliseconds to wait before the next attempt, after ``attempts_made`` attempts have failed.

    ``backoff`` is the validated option: ``None`` (no wait), a number (fixed ms), or
    ``{type: "fixed"|"exponential", delay: ms}``. Exponential is BullMQ's formula
    ``round(2 ** (attempts_made - 1) * delay)`` (BullMQ ``Backoffs.builtinStrategies``), so with
    ``delay`` 1000 the attempts start at about +0 s, +1 s, +3 s, +7 s. Capped at ten years.
    """
    if backoff is None or isinstance(backoff, bool):
        return 0
    if _is_int(backoff):
        return min(max(backoff, 0), MAX_MS)
    if not isinstance(backoff, dict):
        return 0
    delay = backoff.get("delay") or 0
    if backoff.get("type") == "exponential":
        if attempts_made < 1:
            return 0
        # Past 2**60 the product is beyond the cap anyway; bounding the exponent keeps the maths cheap.
        return min(round(2 ** min(attempts_made - 1, 60) * delay), MAX_MS)
    return min(delay, MAX_MS)


# Broker priority levels for BullMQ priorities: 0-4 each get their own level, then one level per decade.
_PRIORITY_LEVELS = ((5, 5), (10, 6), (100, 7), (1000, 8), (10_000, 9))


def broker_priority(priority: int) -> int:
    """Map a BullMQ ``priority`` (0 highest .. 2,097,152 lowest) onto the broker's 10 levels (0 first).

    0-4 map to 0-4; 5-9 → 5; 10-99 → 6; 100-999 → 7; 1,000-9,999 → 8; 10,000 and above → 9. Jobs
    on the same level run in submission order; the exact value stays on the job. kombu's Redis
    transport serves level 0 first (``priority_steps`` in ``CELERY_BROKER_TRANSPORT_OPTIONS``).
    """
    level = max(0, min(int(priority or 0), 4))
    for start, value in _PRIORITY_LEVELS:
        if priority >= start:
            level = value
    return level


def keep_rule(rule: Any) -> tuple[bool, int | None, int | None]:
    """Read a validated ``removeOnComplete``/``removeOnFail`` value as ``(remove_now, count, age_s)``.

    ``true`` → remove the job itself (BullMQ); ``false``/absent → keep all; a count N → keep the
    newest N; ``{count, age}`` → keep at most ``count`` and none finished more than ``age`` s ago.
    """
    if rule is True:
        return True, None, None
    if rule is None or rule is False:
        return False, None, None
    if _is_int(rule):
        return False, rule, None
    if isinstance(rule, dict):
        return False, rule.get("count"), rule.get("age")
    return False, None, None
