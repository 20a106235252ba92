"""The preview's HTTP shell: the standard library's threading server around `Preview`.

A local preview for one editor needs no framework: a handful of GET routes, one
Server-Sent Events stream that tells open pages to reload, and safety headers
on every answer. It binds to loopback unless told otherwise, and on loopback it
answers only requests addressed to a loopback name, so a web page elsewhere
cannot read it through DNS rebinding.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from digest.config import Config
from digest.live import LiveBuilder
from digest.preview import Preview, Response

KEEPALIVE_SECONDS = 15.0
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, preview: Preview) -> None:
        self.preview = preview
        self.loopback_only = is_loopback(host)
        self.stopping = threading.Event()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), PreviewHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


def serve(
    config: Config,
    host: str,
    port: int,
    date: dt.date | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the preview until interrupted, rebuilding the working issue on every change."""
    out = config.build.out
    builder = LiveBuilder(config, out, date, say)
    server = PreviewServer(host, port, Preview(builder))
    stop = threading.Event()
    watcher = threading.Thread(target=builder.run, args=(stop,), name="digest-live", daemon=True)
    say(f"Previewing {out} at {server.url} (Ctrl-C to stop)")
    if not server.loopback_only:
        say(f"warning: {host} is not loopback: other machines can read this preview")
    watcher.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.stopping.set()
        builder.close()
        server.server_close()
        watcher.join(timeout=5)


class PreviewHandler(BaseHTTPRequestHandler):
    server_version = "digest-preview"

    def version_string(self) -> str:
        return self.server_version

    @property
    def app(self) -> PreviewServer:
        return cast(PreviewServer, self.server)

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._send(Response(403, b"Unexpected Host header.", "text/plain; charset=utf-8"))
            return
        if self.path.split("?", 1)[0] == "/events":
            self._events()
            return
        self._send(self.app.preview.respond(self.path))

    def do_HEAD(self) -> None:
        if not self._host_allowed():
            self._send(Response(403, b"", "text/plain"), body=False)
            return
        self._send(self.app.preview.respond(self.path), body=False)

    def _host_allowed(self) -> bool:
        if not self.app.loopback_only:
            return True
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.strip("[]").lower() in LOOPBACK_NAMES or is_loopback(name.strip("[]"))

    def _headers(self, status: int, content_type: str, policy: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Security-Policy", policy)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")

    def _send(self, response: Response, body: bool = True) -> None:
        self._headers(response.status, response.content_type, response.policy)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if body:
            self.wfile.write(response.body)

    def _events(self) -> None:
        """Server-Sent Events: the build version now, then after every rebuild, until closed."""
        self._headers(200, "text/event-stream", "default-src 'none'")
        self.end_headers()
        builder = self.app.preview.builder
        version = builder.status.version
        try:
            self.wfile.write(f"retry: 1000\nevent: build\ndata: {version}\n\n".encode())
            self.wfile.flush()
            while not self.app.stopping.is_set():
                status = builder.wait(version, KEEPALIVE_SECONDS)
                if status.version != version:
                    version = status.version
                    self.wfile.write(f"event: build\ndata: {version}\n\n".encode())
                else:
                    self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except OSError:
            return  # the page went away

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the preview reports rebuilds, not every request."""
