"""Fields shared by the API's serializers: the wire types of the system we port, and request fields
that mean what the OpenAPI document says they mean.

The response serializers of the apps are the one declaration of each shape: views answer with their
``.data`` and drf-spectacular reads the OpenAPI description from them (issue 15).

DRF's ``CharField`` also takes ``12`` and ``1.5`` (as ``"12"`` and ``"1.5"``), where the document
says ``type: string``: a client sending ``"schedulerId": 0`` got a schedule named ``"0"`` instead of
a 400. :class:`StrictCharField` takes strings only; every request serializer of the API uses it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string (``"invalid"``: "Not a valid string.")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z`` (``2030-07-01T00:00:00.123456Z``), whatever zone is active."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def epoch_ms(value: datetime | None) -> int | None:
    """Epoch milliseconds (BullMQ's and JobRunner's instants), ``None`` stays ``None``."""
    return int(value.timestamp() * 1000) if value else None


class UtcDateTimeField(serializers.DateTimeField):
    """An instant as ISO 8601 UTC (``...Z``), never in the viewer's zone that pages activate."""

    def to_representation(self, value):
        return iso_utc(value)


@extend_schema_field({"type": "integer", "format": "int64", "description": "Epoch milliseconds (UTC)."})
class EpochMsField(serializers.Field):
    """An instant as epoch milliseconds, the original's type for ``timestamp.*``, ``next``, ``endDate``."""

    def to_representation(self, value):
        return epoch_ms(value)


class BlankAsNullCharField(serializers.CharField):
    """A text column whose empty value is ``null`` on the wire (``failedReason``, ``disabledReason``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


@extend_schema_field(OpenApiTypes.STR)
class StringIdField(serializers.Field):
    """A primary key as a string (job ids, delivery ids: BullMQ's job ids are strings)."""

    def to_representation(self, value):
        return None if value is None else str(value)


@extend_schema_field({"description": 'Any JSON value (0, "", false and null included).'})
class AnyJSON(serializers.JSONField):
    """A JSON value of any type (job ``data``, ``result``, ``progress``)."""

    def __init__(self, **kwargs: Any) -> None:  # the stubs type JSONField's default as a mapping
        super().__init__(**kwargs)


class MessageSerializer(serializers.Serializer):
    """``{message}``: what happened, in words."""

    message = serializers.CharField()

    class Meta:
        ref_name = "Message"


# The one error shape of the API: {message, errors: {field: [messages]}} (a comment, not a docstring,
# which drf-spectacular would copy into the Error component).
class ErrorSerializer(serializers.Serializer):

    message = serializers.CharField(help_text="What went wrong, naming the field and the rule.")
    # Named like Serializer.errors: DRF's metaclass moves declared fields into _declared_fields.
    errors: Any = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (JSON path such as schedule.cron); empty when no field is to blame.",
    )

    class Meta:
        ref_name = "Error"


class PaginationSerializer(serializers.Serializer):
    """``{total, page, limit, pages}`` of a list (``config.pagination.paginate``)."""

    total = serializers.IntegerField(min_value=0)
    page = serializers.IntegerField(min_value=1)
    limit = serializers.IntegerField(min_value=1, max_value=100)
    pages = serializers.IntegerField(min_value=0)

    class Meta:
        ref_name = "Pagination"


def envelope(ref_name: str, key: str, item: serializers.Serializer, *, paginated: bool = False):
    """A response serializer class ``{<key>: item}`` (plus ``pagination`` when ``paginated``), named
    ``ref_name`` in the OpenAPI description; e.g. ``envelope("JobList", "jobs", JobSerializer(many=True),
    paginated=True)`` is ``{jobs: [...], pagination}``."""
    fields = {key: item, "Meta": type("Meta", (), {"ref_name": ref_name})}
    if paginated:
        fields["pagination"] = PaginationSerializer()
    doc = f"``{{{key}{', pagination' if paginated else ''}}}``."
    return type(f"{ref_name}Serializer", (serializers.Serializer,), {"__doc__": doc, **fields})
