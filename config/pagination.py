"""Page/limit pagination in the shape of the system we port: ``{total, page, limit, pages}``."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError

MAX_LIMIT = 100


def _positive_int(raw, field: str, default: int, maximum: int | None = None) -> int:
    if raw is None:  # not given; "page=" (empty) is a 400 like any other non-number
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise ValidationError({field: [f"{field}: must be a positive integer"]}) from None
    if value < 1 or (maximum is not None and value > maximum):
        bound = f" between 1 and {maximum}" if maximum else " >= 1"
        raise ValidationError({field: [f"{field}: must be an integer{bound}"]})
    return value


def paginate(queryset, params, default_limit: int = 10) -> tuple[list, dict]:
    """Slice ``queryset`` by ``?page`` (1-based, 1..10**9) and ``?limit`` (1..100); O(page) plus one COUNT.

    Returns ``(items, {"total", "page", "limit", "pages"})``; raises ``ValidationError`` for bad params.
    """
    page = _positive_int(params.get("page"), "page", 1, 10**9)
    limit = _positive_int(params.get("limit"), "limit", default_limit, MAX_LIMIT)
    total = queryset.count()
    start = (page - 1) * limit
    items = list(queryset[start : start + limit]) if start < total else []
    pages = math.ceil(total / limit) if total else 0
    return items, {"total": total, "page": page, "limit": limit, "pages": pages}
