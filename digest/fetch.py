"""Fetch feeds over HTTP, politely: conditional GET, capped bodies, few requests per host.

Redirects are followed here rather than by the client, so that a loop is named
as a loop and a chain of permanent redirects can move the stored URL. Every
failure comes back as a `Fetched` with a reason a user can act on; no exception
and no aiohttp object leaves this module.

The client is aiohttp: its C-accelerated HTTP parser costs about a third of the
CPU of httpx per request, which is what a collect of a thousand mostly-unchanged
feeds spends its time on.
"""

from __future__ import annotations

import asyncio
import os
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit

import aiohttp

from digest.config import FetchSettings

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PERMANENT = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Response headers the parser needs to decode the body and resolve relative links.
KEPT_HEADERS = ("content-type", "content-location", "content-language")


@dataclass(frozen=True)
class Fetched:
    """What one request for a feed came to."""

    url: str
    status: Literal["ok", "not_modified", "failed"]
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    final_url: str = ""
    moved_to: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Fetcher:
    """One HTTP client for a whole collect run, with a concurrency limit per host."""

    def __init__(self, settings: FetchSettings, client: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.client = client
        self.hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )

    @staticmethod
    def client_for(settings: FetchSettings) -> aiohttp.ClientSession:
        """The session for one run; create it inside the run's event loop."""
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.timeout),
            connector=aiohttp.TCPConnector(limit=settings.concurrency, limit_per_host=0),
            headers={"User-Agent": settings.user_agent},
            trust_env=_environment_matters(),
        )

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = ACCEPT,
    ) -> Fetched:
        """One URL, conditionally when validators are given; `accept` is what is asked
        for (a feed, unless said otherwise)."""
        host = urlsplit(url).hostname or ""
        async with self.hosts[host]:
            try:
                async with asyncio.timeout(self.settings.timeout):
                    return await self._follow(url, etag, last_modified, accept)
            except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
                return _failed(url, f"timed out after {self.settings.timeout:g} s")
            except (aiohttp.ClientError, ValueError) as exc:  # ValueError: a URL yarl rejects
                return _failed(url, _describe(exc))

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, accept: str
    ) -> Fetched:
        chain = [url]
        permanent = True
        current = url
        for _ in range(self.settings.max_redirects + 1):
            headers = {"Accept": accept}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            async with self.client.get(current, headers=headers, allow_redirects=False) as response:
                status = response.status
                location = response.headers.get("location")
                if status in REDIRECTS and location:
                    target = urljoin(current, location.strip())
                    if urlsplit(target).scheme not in ("http", "https"):
                        return _failed(url, f"redirected to a non-http address: {target}")
                    if target in chain:
                        loop = " -> ".join([*chain[chain.index(target) :], target])
                        return _failed(url, f"redirect loop: {loop}")
                    permanent = permanent and status in PERMANENT
                    chain.append(target)
                    current = target
                    continue
                moved = current if permanent and current != url else None
                if status == 304:
                    return Fetched(url, "not_modified", final_url=current, moved_to=moved)
                if status != 200:
                    return _failed(url, _http_reason(status, response.reason or ""))
                body, error = await self._read_capped(response)
                if error:
                    return _failed(url, error)
                return Fetched(
                    url,
                    "ok",
                    body=body,
                    headers=tuple(
                        (name, response.headers[name])
                        for name in KEPT_HEADERS
                        if name in response.headers
                    ),
                    final_url=current,
                    moved_to=moved,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        return _failed(url, f"more than {self.settings.max_redirects} redirects")

    async def _read_capped(self, response: aiohttp.ClientResponse) -> tuple[bytes, str | None]:
        """The body, read in chunks and abandoned as soon as it passes the size cap."""
        cap = self.settings.max_bytes
        too_big = f"larger than the {_size(cap)} cap; stopped reading"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return b"", too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                response.close()  # drop the connection rather than drain the rest
                return b"", too_big
            chunks.append(chunk)
        return b"".join(chunks), None


def _environment_matters() -> bool:
    """Whether proxy variables (HTTP(S)_PROXY, NO_PROXY) or a .netrc are there to honour.

    aiohttp looks both up in a thread for every request when asked to trust the
    environment, which costs a run of a thousand unchanged feeds a tenth of its
    time, so it is asked only when there is something to find.
    """
    netrc = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    return bool(urllib.request.getproxies()) or netrc.is_file()


def _failed(url: str, error: str) -> Fetched:
    return Fetched(url, "failed", error=error)


def _http_reason(status: int, phrase: str) -> str:
    meaning = {404: "not found", 410: "gone for good", 401: "needs a login", 403: "forbidden"}
    words = meaning.get(status) or phrase or "error"
    return f"HTTP {status} ({words})"


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the library says
    if isinstance(exc, aiohttp.ClientPayloadError) and "content-encoding" in text.lower():
        return f"the compressed body is corrupt ({text})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {text}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return f"the server broke the connection: {text}"
    return f"{type(exc).__name__}: {text}"


def _size(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 1_000_000 else f"{n / 1000:g} KB"
