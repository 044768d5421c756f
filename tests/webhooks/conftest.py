"""A real HTTP receiver on loopback for webhook tests (``http.server`` in a thread)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Answers POSTs with the codes in ``plan`` (one per request, then ``default``) and records them.

    ``requests`` holds ``(path, headers with lower-case names, body bytes)``. ``start()`` may be
    called late (a receiver that is down for a while) on the port chosen at construction.
    """

    def __init__(self, port: int = 0, default: int = 200):
        self.plan: list[int] = []
        self.default = default
        self.requests: list[tuple[str, dict, bytes]] = []
        self.headers_out: dict[str, str] = {}
        self.answer: bytes | None = None  # the response body; default "answer <code>"
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    code = receiver.plan.pop(0) if receiver.plan else receiver.default
                self.send_response(code)
                for name, value in receiver.headers_out.items():
                    self.send_header(name, value)
                answer = receiver.answer if receiver.answer is not None else f"answer {code}".encode()
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._handler = Handler
        self.server: ThreadingHTTPServer | None = None
        if port == 0:
            self.start()
            self.port = self.server.server_address[1]
        else:
            self.port = port

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", getattr(self, "port", 0)), self._handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [json.loads(b) for p, _, b in self.requests if path is None or p == path]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()
