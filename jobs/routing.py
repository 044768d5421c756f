"""Websocket routes of the job server."""

websocket_urlpatterns: list = []
