"""Test-only routes: unexpected failures (in a DRF view and in a plain Django view) and a throttled view."""

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


urlpatterns = [
    path("jobs/boom", Boom.as_view()),
    path("jobs/plain-boom", plain_boom),
    path("jobs/throttled", Throttled.as_view()),
]
