"""Page/limit pagination in the shape of the system we port: ``{total, page, limit, pages}``."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter

MAX_LIMIT = 100
MAX_OFFSET = 10**10


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


# The bounds below (page 1..10**9, limit 1..100, offset 0..10**10) are the spec's too. Not exploded: a
# list or object sent for one of them arrives as "a,b" (a 400), not as other parameters.
PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": 10**9},
        OpenApiParameter.QUERY,
        description="1-based page, default 1.",
        style="form",
        explode=False,
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        OpenApiParameter.QUERY,
        description="1..100, default 10.",
        style="form",
        explode=False,
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        OpenApiParameter.QUERY,
        description="Items to skip when no page is given (the React client of the original sends it).",
        style="form",
        explode=False,
    ),
]


def paginate(queryset, params, default_limit: int = 10) -> tuple[list, dict]:
    """Slice ``queryset`` by ``?page`` (1-based, 1..10**9) and ``?limit`` (1..100); O(page) plus one COUNT.

    ``?offset`` (items to skip, >= 0) is taken when no ``page`` is given; ``page`` in the answer is
    then the page that offset falls in. Returns ``(items, {"total", "page", "limit", "pages"})``;
    raises ``ValidationError`` for bad params.
    """
    limit = _positive_int(params.get("limit"), "limit", default_limit, MAX_LIMIT)
    if params.get("page") is None and params.get("offset") is not None:
        raw = str(params.get("offset"))
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_OFFSET:
            raise ValidationError({"offset": [f"offset: must be an integer between 0 and {MAX_OFFSET}"]})
        start = int(raw)
        page = start // limit + 1
    else:
        page = _positive_int(params.get("page"), "page", 1, 10**9)
        start = (page - 1) * limit
    total = queryset.count()
    items = list(queryset[start : start + limit]) if start < total else []
    pages = math.ceil(total / limit) if total else 0
    return items, {"total": total, "page": page, "limit": limit, "pages": pages}
