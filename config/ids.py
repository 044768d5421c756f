"""The one parser of numeric ids (jobs, webhooks, deliveries, API keys) from paths, queries and
websocket messages.

An id is 1 to 19 ASCII digits with a value from 1 to 2**63 - 1 (a ``BigAutoField``). Anything else
is no id at all: ``"²"`` (``str.isdigit`` says yes, ``int`` says no), Arabic-Indic digits, signs,
blanks, underscores, 4,301+ digits (``int`` refuses them: Python's integer string limit), values past
a 64-bit column, JSON ``true`` or ``1.0``. Selectors answer ``Http404`` for them, like an id of
another user's row, so every route, page and websocket action treats them alike.
"""

from __future__ import annotations

from .errors import NotFoundError

MAX_ID = 2**63 - 1
ID_PATTERN = r"[0-9]{1,19}"


def parse_id(value) -> int | None:
    """``value`` (a string or an int from JSON) as an id, or ``None`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    if not (1 <= len(value) <= 19 and value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def id_or_404(value) -> int:
    """:func:`parse_id`, raising ``NotFoundError`` (an ``Http404``) for what is not an id."""
    number = parse_id(value)
    if number is None:
        raise NotFoundError
    return number
