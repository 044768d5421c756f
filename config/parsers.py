"""The API's JSON parser: DRF's, refusing what the database cannot store instead of failing later.

PostgreSQL's ``jsonb`` and ``text`` refuse ``\\u0000`` and lone surrogates (``\\ud800``);
``json.dumps`` writes ``Infinity`` for a number like ``1e999`` that overflows a float, which no JSON
column accepts; a body nested deeper than Python's recursion limit raises ``RecursionError``
rather than ``ValueError``. Each of these is a 400
with the API's error shape here rather than a 500 from the database or the parser.
"""

from __future__ import annotations

import codecs
import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(JSONParser):
    """``application/json`` bodies as Python values; ``ParseError`` (400) for malformed or unstorable ones."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}") from exc
        try:
            value = json.loads(text, parse_float=_parse_float, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {str(exc)[:200]}") from None
        problem = _unstorable_string(value)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return value


def _unstorable_string(value) -> str | None:
    """What is wrong with the first string or key in ``value`` PostgreSQL would refuse (U+0000, or a
    lone surrogate such as ``"\\ud800"``, which has no UTF-8 form); iterative, so depth cannot overflow."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "NUL characters (\\u0000) are not accepted"
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return "strings must be valid Unicode (a lone surrogate \\ud800..\\udfff)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
