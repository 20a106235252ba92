"""A real HTTP server on 127.0.0.1 (port 0) that serves feeds and every fault a feed can have.

Routes are plain functions of the request headers, so a test can change what a
URL answers between two collects; every request is recorded for assertions.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Body = bytes | Iterable[bytes]


@dataclass
class Reply:
    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Callable[[Message], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default, 5, drops connections that arrive together
    daemon_threads = True


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                route = server.routes.get(self.path)
                reply = route(self.headers) if route else Reply(404, b"no such feed")
                if reply.delay:
                    server.stopping.wait(reply.delay)
                self.send_response(reply.status)
                chunked = not isinstance(reply.body, bytes)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    assert isinstance(reply.body, bytes)
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    if isinstance(reply.body, bytes):
                        self.wfile.write(reply.body)
                        return
                    for chunk in reply.body:
                        if server.stopping.is_set():
                            return
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, reply: Reply | Route) -> str:
        self.routes[path] = reply if callable(reply) else (lambda _headers: reply)
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(title: str, items: list[tuple[str, str, str]], pub: str = "") -> bytes:
    """An RSS 2.0 feed; items are (guid, link, html description)."""
    entries = "".join(
        f"<item><title>{guid} title</title><link>{link}</link><guid>{guid}</guid>"
        f"{f'<pubDate>{pub}</pubDate>' if pub else ''}"
        f"<description><![CDATA[{body}]]></description></item>"
        for guid, link, body in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://news.example.com/</link>{entries}"
        f"</channel></rss>"
    ).encode()


def endless(total: int, chunk: int = 65536) -> Iterator[bytes]:
    """`total` bytes of feed-looking junk, made as they are sent, never held at once."""
    block = b"<rss><channel>" + b"x" * (chunk - 14)
    sent = 0
    while sent < total:
        yield block
        sent += len(block)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def slow(seconds: float) -> Reply:
    return Reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"}, delay=seconds)


def now_http() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
