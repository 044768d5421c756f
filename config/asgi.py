"""ASGI entry point: HTTP through Django, websockets through Channels (``/ws/...``), Socket.IO (both
transports) at ``/socket.io/`` through python-socketio in front of them (``jobs.socketio_app``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Build the Django app before importing anything that touches models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import origin_guard, websocket_urlpatterns  # noqa: E402
from jobs.socketio_app import asgi_app as socketio_in_front  # noqa: E402

from .bodies import RequestBodies  # noqa: E402

channels_application = ProtocolTypeRouter(
    {
        # One body size limit and readable chunked bodies for every HTTP route (config/bodies.py).
        "http": RequestBodies(django_asgi_app),
        # Session cookie → scope["user"] for browsers; scripts use ?token= or an API key (jobs/consumers.py).
        "websocket": origin_guard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
application = socketio_in_front(channels_application)
