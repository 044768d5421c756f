"""Request fields that mean what the OpenAPI document says they mean.

DRF's ``CharField`` also takes ``12`` and ``1.5`` (as ``"12"`` and ``"1.5"``), where the document
says ``type: string``: a client sending ``"schedulerId": 0`` got a schedule named ``"0"`` instead of
a 400. :class:`StrictCharField` takes strings only; every request serializer of the API uses it.
"""

from __future__ import annotations

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string (``"invalid"``: "Not a valid string.")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
