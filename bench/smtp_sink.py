"""A fast local SMTP sink for the benchmarks: aiosmtpd in its own process, only counting.

It stands in for Postfix or an email service, which take a 58 KB message in well
under a millisecond, so that a benchmark measures the client and not the sink.
Three things keep aiosmtpd out of the way, each one what a real MTA does anyway:

- DATA is read in one piece up to the final dot. aiosmtpd's own `smtp_DATA`
  awaits every line (about 800 for our quoted-printable issue), which caps it
  near 160 messages/s on this machine whatever the client does.
- TCP_NODELAY on every connection. asyncio sets it only on sockets created with
  proto IPPROTO_TCP; without it, the second of two quick replies waits for the
  client's delayed ACK (40 ms), which is what pipelined replies are.
- PIPELINING (RFC 2920) is advertised, as Postfix and most services do;
  `--no-pipelining` leaves it out, to measure a client against a server without it.

    python bench/smtp_sink.py [--no-pipelining]   # prints its port; serves until killed
    python bench/smtp_sink.py --ceiling 2000 [--no-pipelining] [--message FILE]
        # the sink's own ceiling: a trivial client (one connection, a message
        # already in wire format, no log) sends N messages and prints messages/s
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

END = b"\r\n.\r\n"
_ATOMS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_PLAIN_PATH = re.compile(rf"\s*<({_ATOMS}@{_ATOMS})>")


class Counter:
    """The aiosmtpd handler: accepts everything and counts the messages."""

    def __init__(self, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.messages = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 2.0.0 queued"


class BulkDataSMTP(SMTP):
    """aiosmtpd with DATA read up to the final dot in one go instead of line by line."""

    # The stream limit is also the longest line aiosmtpd accepts; a whole message
    # must fit in it here. Only a sink that trusts its client can afford this.
    line_length_limit = 64 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replies: list[bytes] = []

    async def push(self, status: str | bytes) -> None:
        """Replies to pipelined commands leave together once the input is used up (as Postfix)."""
        self._replies.append((status.encode() if isinstance(status, str) else status) + b"\r\n")
        if not self._reader._buffer:  # type: ignore[attr-defined]
            self._writer.write(b"".join(self._replies))
            self._replies.clear()
            await self._writer.drain()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """`<plain@address>` without the email package's full parser (a millisecond each)."""
        found = _PLAIN_PATH.match(arg)
        if found is None:
            return super()._getaddr(arg)  # type: ignore[no-any-return]
        return found.group(1), arg[found.end() :]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = b""
        while data != b".\r\n" and not data.endswith(END):
            # ".\r\n" rather than END as the separator: an empty message is just ".\r\n".
            data += await self._reader.readuntil(b".\r\n")
        body = data[: len(data) - 3].replace(b"\r\n..", b"\r\n.")
        self.envelope.original_content = self.envelope.content = (
            body[1:] if body.startswith(b"..") else body
        )
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


async def serve(pipelining: bool) -> None:
    handler = Counter(pipelining)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: BulkDataSMTP(handler, hostname="localhost", data_size_limit=None),
        "127.0.0.1",
        0,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


def trivial_client(port: int, n: int, message: bytes) -> float:
    """Messages per second of the simplest client there is: the sink's ceiling."""
    data = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..")
    data += b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        replies = sock.makefile("rb")

        def reply() -> bytes:
            while (line := replies.readline())[3:4] == b"-":
                pass
            return line

        reply()
        sock.sendall(b"EHLO bench\r\n")
        pipelining = False
        while (line := replies.readline())[3:4] == b"-":
            pipelining = pipelining or line[4:].strip().upper() == b"PIPELINING"
        started = time.perf_counter()
        for i in range(n):
            commands = [b"MAIL FROM:<bench@example.com>\r\n", b"RCPT TO:<r%d@example.net>\r\n" % i]
            if pipelining:
                sock.sendall(b"".join(commands) + b"DATA\r\n")
                reply(), reply()
            else:
                for command in commands:
                    sock.sendall(command)
                    reply()
                sock.sendall(b"DATA\r\n")
            if not reply().startswith(b"354"):
                raise RuntimeError("the sink refused DATA")
            sock.sendall(data)
            if not reply().startswith(b"250"):
                raise RuntimeError("the sink refused the message")
        elapsed = time.perf_counter() - started
        sock.sendall(b"QUIT\r\n")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-pipelining", action="store_true")
    parser.add_argument("--ceiling", type=int, metavar="N", help="measure the sink alone")
    parser.add_argument("--message", type=Path, help="the message for --ceiling (an .eml)")
    args = parser.parse_args()
    if args.ceiling is None:
        asyncio.run(serve(not args.no_pipelining))
        return
    message = args.message.read_bytes() if args.message else b"Subject: x\n\n" + b"y" * 99
    rate, cpu = ceiling(args.ceiling, message, pipelining=not args.no_pipelining)
    print(f"{rate:.0f} messages/s, sink CPU {cpu * 1000:.2f} ms per message")


def ceiling(n: int, message: bytes, pipelining: bool = True) -> tuple[float, float]:
    """The sink's messages/s with a trivial client, and its CPU seconds per message."""
    command = [sys.executable, __file__] + ([] if pipelining else ["--no-pipelining"])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sink = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        rate = trivial_client(port, n, message)
    finally:
        sink.terminate()
        sink.wait(10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return rate, cpu / n


if __name__ == "__main__":
    main()
