"""A real SMTP server (aiosmtpd) on 127.0.0.1, port 0, in a thread, for the delivery tests.

`script(stage, address, n)` decides each answer: `stage` is "rcpt" or "data",
`n` counts that stage across the server's life (1-based). It returns None for
the normal answer, an SMTP reply such as "451 4.3.0 busy", or DROP to cut the
connection without answering ("data" stores the message first, as a server
that crashed after writing it to its queue would).

Run as a script (`python tests/smtp_sink.py`), it serves until killed, prints
its port, and only counts messages. (The benchmarks use the faster
`bench/smtp_sink.py`: this one reads DATA line by line, as aiosmtpd does.)
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

DROP = "DROP"
Script = Callable[[str, str, int], str | None]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Sink:
    """The handler: keeps every accepted message (or only counts them)."""

    script: Script = lambda stage, address, n: None
    keep: bool = True
    pipelining: bool = False  # offer PIPELINING (RFC 2920) in the EHLO reply, as Postfix does
    received: list[Received] = field(default_factory=list)
    count: int = 0
    connections: int = 0
    counters: dict[str, int] = field(default_factory=lambda: {"rcpt": 0, "data": 0})

    def _ask(self, server: Any, stage: str, address: str) -> str | None:
        self.counters[stage] += 1
        answer = self.script(stage, address, self.counters[stage])
        if answer == DROP:
            server.transport.abort()
            return "421 gone"
        return answer

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        if not getattr(session, "counted", False):
            session.counted = True
            self.connections += 1
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answer = self._ask(server, "rcpt", address)
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.counters["data"] += 1
        answer = self.script("data", envelope.rcpt_tos[0], self.counters["data"])
        if answer is None or answer == DROP:
            self.count += 1
            if self.keep:
                login = session.auth_data
                self.received.append(
                    Received(
                        sender=envelope.mail_from,
                        recipients=list(envelope.rcpt_tos),
                        data=bytes(envelope.original_content),
                        tls=session.ssl is not None,
                        login=login.decode() if isinstance(login, bytes) else None,
                    )
                )
        if answer == DROP:
            server.transport.abort()
        return answer or "250 2.0.0 queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


class SMTPServer:
    """Serve `sink` on 127.0.0.1 on a free port (or `port`) until `close()`."""

    def __init__(self, sink: Sink, port: int = 0, **smtp_options: Any) -> None:
        from aiosmtpd.smtp import SMTP

        self.sink = sink
        # IPPROTO_TCP, so that asyncio sets TCP_NODELAY on each connection: without it a
        # reply written right after another waits for the client's delayed ACK (40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port: int = sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        options = {"hostname": "localhost", "timeout": 10, **smtp_options}
        make = self.loop.create_server(lambda: SMTP(sink, **options), sock=sock)
        self.server = asyncio.run_coroutine_threadsafe(make, self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def tls_context(cert_chain: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_chain, key)
    return context


if __name__ == "__main__":
    server = SMTPServer(Sink(keep=False), data_size_limit=None)
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()
        sys.exit(0)
