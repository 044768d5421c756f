"""Test-only routes: unexpected failures (in a DRF view and in a plain Django view), database errors as
the drivers raise them, and a throttled view."""

import sqlite3

from django.db import OperationalError
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView


class Boom(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request):
        raise RuntimeError("secret detail that must not reach the client")


class TwoPerHour(AnonRateThrottle):
    rate = "2/hour"


class Throttled(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [TwoPerHour]

    def get(self, request):
        return Response({"ok": True})


def plain_boom(request):
    raise RuntimeError("secret detail of a plain view")


def _database_error(kind: str) -> OperationalError:
    """A Django ``OperationalError`` caused by what the driver raises for ``kind`` (as Django wraps it)."""
    import psycopg_pool

    cause = {
        "pool-timeout": psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec"),
        "locked": sqlite3.OperationalError("database is locked"),
        "no-table": sqlite3.OperationalError("no such table: nothing_here"),
    }[kind]
    error = OperationalError(*cause.args)
    error.__cause__ = cause
    return error


class DatabaseBoom(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request, kind):
        raise _database_error(kind)


def plain_database_boom(request, kind):
    raise _database_error(kind)


class DatabaseBoomMiddleware:
    """Raises from a middleware (outside any view) for ``/jobs/middleware-db-boom``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/jobs/middleware-db-boom":
            raise _database_error("locked")
        return self.get_response(request)


urlpatterns = [
    path("jobs/db-boom/<str:kind>", DatabaseBoom.as_view()),
    path("jobs/plain-db-boom/<str:kind>", plain_database_boom),
    path("jobs/boom", Boom.as_view()),
    path("jobs/plain-boom", plain_boom),
    path("jobs/throttled", Throttled.as_view()),
]
