"""Read local sources (a file or a folder of files) into raw items.

Readers only decode bytes and separate what a file claims about itself (front
matter) from its body; deciding what to believe is the cleaner's job.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from digest.config import Source
from digest.maillinks import restore_links
from digest.models import Note, RawItem
from digest.tags import KEYS as TAG_KEYS
from digest.tags import join_tags, parse_tags
from digest.urls import clean_url

SUFFIXES = {
    ".txt": "markdown",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".eml": "html",
}
MAX_FILE_BYTES = 5_000_000


@dataclass(frozen=True)
class ReadResult:
    items: tuple[RawItem, ...]
    notes: tuple[Note, ...]


def read_local(source: Source, root: Path) -> ReadResult:
    """Every readable file under the source's path, in a stable (sorted) order."""
    assert source.path is not None
    items: list[RawItem] = []
    notes: list[Note] = []
    if not source.path.exists():
        notes.append(Note("read", _show(source.path, root), "no such file or folder"))
        return ReadResult((), tuple(notes))
    for path in _files(source.path):
        origin = _show(path, root)
        if path.suffix.lower() not in SUFFIXES:  # a file named on its own, of a kind not read
            kinds = ", ".join(sorted(SUFFIXES))
            notes.append(Note("read", origin, f"skipped: not a file digest reads ({kinds})"))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            notes.append(Note("read", origin, f"cannot read: {exc.strerror}"))
            continue
        if len(data) > MAX_FILE_BYTES:
            notes.append(Note("read", origin, f"skipped: larger than {MAX_FILE_BYTES} bytes"))
            continue
        if path.suffix.lower() == ".eml":
            meta, body, problem = read_email(data)
        else:
            text, note = _decode(data)
            if note:
                notes.append(Note("read", origin, note))
            meta, body, problem = split_front_matter(text)
        if problem:
            notes.append(Note("read", origin, problem))
        items.append(
            RawItem(
                origin=origin,
                source_name=source.name,
                text=body,
                format="html" if SUFFIXES[path.suffix.lower()] == "html" else "markdown",
                meta=meta,
                weight=source.weight,
                theme_hint=source.theme,
            )
        )
    return ReadResult(tuple(items), tuple(notes))


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        if child.is_file() and child.suffix.lower() in SUFFIXES and not child.name.startswith("."):
            yield child


def read_email(data: bytes) -> tuple[tuple[tuple[str, str], ...], str, str | None]:
    """A saved newsletter (.eml): its HTML part (else its text part) and its headers.

    Mailers wrap the HTML part's links in click-tracking redirects; the plain-text
    part beside it still says where each one goes (see digest.maillinks).
    """
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    meta: list[tuple[str, str]] = []
    subject = str(message.get("Subject", "")).strip()
    if subject:
        meta.append(("title", subject))
    sender = email.utils.parseaddr(str(message.get("From", "")))[0]
    if sender:
        meta.append(("source", sender))
    try:
        date = email.utils.parsedate_to_datetime(str(message.get("Date", "")))
        meta.append(("date", date.date().isoformat()))
    except (TypeError, ValueError):
        pass
    part = message.get_body(preferencelist=("html", "plain"))
    if part is None:
        return tuple(sorted(meta)), "", "the message has no text or HTML part"
    try:
        body = part.get_content()
    except (LookupError, UnicodeDecodeError) as exc:
        return tuple(sorted(meta)), "", f"cannot decode the message body: {exc}"
    if part.get_content_type() == "text/plain":
        return tuple(sorted(meta)), "<pre>" + html.escape(body) + "</pre>", None
    return tuple(sorted(meta)), *_with_real_links(message, body)


def _with_real_links(message: email.message.EmailMessage, body: str) -> tuple[str, str | None]:
    """The HTML part with its click-tracking links restored from the plain-text part."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is None:
        return body, None
    try:
        text = plain.get_content()
    except (LookupError, UnicodeDecodeError):
        return body, None
    result = restore_links(body, text)
    hidden = [url for url in result.unpaired if url.startswith("http") and not clean_url(url)]
    if hidden:
        return result.html, (
            f"{len(hidden)} click-tracking links have no match in the plain-text part;"
            " they are left out"
        )
    return result.html, None


def _decode(data: bytes) -> tuple[str, str | None]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "not UTF-8; read as Windows-1252"


def split_front_matter(text: str) -> tuple[tuple[tuple[str, str], ...], str, str | None]:
    """YAML front matter between --- lines, as sorted string pairs, and the rest."""
    if not text.startswith("---\n"):
        return (), text, None
    end = text.find("\n---\n", 4)
    if end < 0:
        return (), text, None
    try:
        data = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        return (), text[end + 5 :], f"front matter is not valid YAML, ignored: {exc}"
    if not isinstance(data, dict):
        return (), text[end + 5 :], "front matter is not a mapping, ignored"
    pairs = {str(k): v for k, v in data.items() if v is not None}
    tag_key = next((key for key in TAG_KEYS if key in pairs), None)
    if tag_key is not None:  # `tags: [ai, chips]` or `keywords: ai, chips`
        value = pairs.pop(tag_key)
        values = value if isinstance(value, list) else [str(value)]
        pairs["tags"] = join_tags(tag for v in values for tag in parse_tags(str(v)))
    meta = tuple(sorted((k, str(v)) for k, v in pairs.items()))
    return meta, text[end + 5 :], None


def _show(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
