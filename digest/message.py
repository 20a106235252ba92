"""The MIME message: the rendered HTML and text as one email, ready for SMTP or a .eml file.

Standard library only. Everything in the message is derived from the issue and the
config, never from the clock or a random source, so the same issue gives the same
bytes and golden tests need no scrubbing. `build_message` takes the recipient so the
sender can call it once per reader.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
import re
import zoneinfo
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import quote

from digest.config import Config

# RFC 2045 allows 76-character encoded lines; the default policy writes 78. Headers we
# fold ourselves (List-Unsubscribe) are written as they are, never re-encoded.
MAX_LINE = 76
POLICY = email.policy.default.clone(max_line_length=MAX_LINE, refold_source="none")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class Headed(Protocol):
    """What a message needs to know about its issue: an `Issue`, or one read back from disk."""

    @property
    def date(self) -> dt.date: ...
    @property
    def newsletter(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def subject(self) -> str: ...


def build_message(
    issue: Headed,
    html: str,
    text: str,
    config: Config,
    recipient: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message: text/plain first, then text/html, both QP UTF-8.

    MRML writes HTML lines of many kilobytes, so both parts are quoted-printable,
    never 7bit or 8bit. With a recipient, the message is that reader's own: their
    address in To, in List-Unsubscribe and in the Message-ID; without one (the
    build's preview .eml) it is addressed to the configured `to` list.
    """
    msg = EmailMessage(policy=POLICY)
    _set_headers(msg, headers(issue, config, recipient))
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    msg.set_boundary(_boundary(msg))
    return msg


def headers(issue: Headed, config: Config, recipient: str | None) -> list[tuple[str, str]]:
    """The top-level headers, in order, before the MIME ones; the only per-reader part."""
    nl = config.newsletter
    to = recipient if recipient is not None else ", ".join(nl.recipients)
    subject = clean_header_text(issue.subject) or clean_header_text(issue.title) or nl.name
    return [
        ("From", nl.sender),
        ("To", clean_header_text(to)),
        ("Subject", subject),
        ("Date", email.utils.format_datetime(send_datetime(issue, config))),
        ("Message-ID", message_id(issue, subject, to, sender_domain(config))),
        ("MIME-Version", "1.0"),
        ("List-Id", list_id(config)),
        ("List-Unsubscribe", list_unsubscribe(config, recipient)),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]


class Mailing:
    """One issue's message encoded once, then addressed to each reader in turn.

    Encoding 50 KB of HTML as quoted-printable costs milliseconds; the parts and
    their boundary are the same for every reader, so they are encoded once, and
    so are the headers that do not name the reader. `for_recipient(r)` gives
    exactly the bytes of `message_bytes(build_message(issue, html, text, config, r))`.
    """

    PERSONAL = frozenset({"To", "Message-ID", "List-Unsubscribe"})

    def __init__(self, issue: Headed, html: str, text: str, config: Config) -> None:
        self.issue = issue
        self.config = config
        whole = build_message(issue, html, text, config, "reader@invalid")
        self.body = message_bytes(whole).split(b"\n\n", 1)[1]
        pairs = [*headers(issue, config, "reader@invalid")]
        pairs.append(("Content-Type", str(whole["Content-Type"])))
        self._fixed = {n: _fold(n, v) for n, v in pairs if n not in self.PERSONAL}
        self._order = [n for n, _ in pairs]
        self._subject = dict(pairs)["Subject"]
        self._domain = sender_domain(config)

    def for_recipient(self, recipient: str) -> bytes:
        return self.addressed(recipient)[0]

    def addressed(self, recipient: str) -> tuple[bytes, str]:
        """The reader's message and its Message-ID: the headers of `headers` that name them."""
        mid = message_id(self.issue, self._subject, recipient, self._domain)
        personal = {
            "To": _fold("To", clean_header_text(recipient)),
            "Message-ID": _fold("Message-ID", mid),
            "List-Unsubscribe": _fold("List-Unsubscribe", list_unsubscribe(self.config, recipient)),
        }
        head = b"".join(personal.get(name) or self._fixed[name] for name in self._order)
        return head + b"\n" + self.body, mid


# A bare address, or a Message-ID, of plain characters: the header registry writes it as
# it is when it fits the line, so `_fold` need not parse it (a third of a millisecond each).
_ADDR_SPEC = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_PLAIN = {"To": re.compile(_ADDR_SPEC), "Message-ID": re.compile(f"<{_ADDR_SPEC}>")}


def _fold(name: str, value: str) -> bytes:
    """One header as `_set_headers` and the 76-column policy would write it."""
    if name == "List-Unsubscribe":
        return POLICY.fold_binary(name, value.replace(", ", ",\n "))
    plain = _PLAIN.get(name)
    if plain and plain.fullmatch(value) and len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}\n".encode("ascii")
    return POLICY.fold_binary(*POLICY.header_store_parse(name, value))


def _set_headers(msg: EmailMessage, pairs: list[tuple[str, str]]) -> None:
    """Set the headers; List-Unsubscribe is folded by hand, one URI per line.

    The email package would turn a long URI into RFC 2047 encoded-words, which
    no client reads as a link; a URI longer than a line is left whole instead.
    """
    for name, value in pairs:
        if name == "List-Unsubscribe":
            msg.set_raw(name, value.replace(", ", ",\n "))
        else:
            msg[name] = value


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on disk or on the wire, with the 76-column policy."""
    return msg.as_bytes(policy=POLICY)


def clean_header_text(value: str) -> str:
    """One line of header text: control characters (CR and LF above all) become spaces.

    A subject built from feed titles must never be able to end the header or add one.
    """
    return " ".join(_CONTROL.sub(" ", value).split())


def send_datetime(issue: Headed, config: Config) -> dt.datetime:
    """The issue date at the configured send time in the configured zone: never "now"."""
    nl = config.newsletter
    zone = zoneinfo.ZoneInfo(nl.timezone)
    return dt.datetime.combine(issue.date, nl.send_time).replace(tzinfo=zone)


def sender_domain(config: Config) -> str:
    """The domain of the From address, which owns the Message-ID and List-Id names."""
    _, address = email.utils.parseaddr(config.newsletter.sender)
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "localhost"


def message_id(issue: Headed, subject: str, recipient: str, domain: str) -> str:
    """A Message-ID stable for the same issue and reader, distinct across readers."""
    seed = "\n".join((issue.newsletter, issue.date.isoformat(), subject, recipient))
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]
    return f"<digest.{issue.date.isoformat()}.{digest}@{domain}>"


def slug(name: str) -> str:
    """A DNS-label-safe form of the newsletter name, for List-Id."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "digest"


def list_id(config: Config) -> str:
    """RFC 2919 List-Id: `<slug.domain>`, so clients can group and filter the list."""
    return f"<{slug(config.newsletter.name)}.{sender_domain(config)}>"


def list_unsubscribe(config: Config, recipient: str | None = None) -> str:
    """RFC 2369/8058 List-Unsubscribe: the https one-click URL first, then the mailto.

    For one reader, both carry their address (`?email=` on the URL, the subject of
    the mailto), so the one-click POST and the reply say who is leaving.
    """
    nl = config.newsletter
    url = nl.unsubscribe_url
    mailto = nl.unsubscribe_mailto.strip()
    if mailto and not mailto.startswith("mailto:"):
        mailto = "mailto:" + mailto
    if recipient is not None:
        who = quote(_mailbox(recipient), safe="@")
        url += ("&" if "?" in url else "?") + "email=" + who
        if mailto:
            mailto += ("&" if "?" in mailto else "?") + "subject=unsubscribe%20" + who
    uris = [f"<{url}>"]
    if mailto:
        uris.append(f"<{mailto}>")
    return ", ".join(uris)


def _mailbox(recipient: str) -> str:
    """The address in `Name <address>` or a bare address, as `email.utils.parseaddr` finds it."""
    text = clean_header_text(recipient)
    if _PLAIN["To"].fullmatch(text):
        return text  # what parseaddr returns for a plain addr-spec, without parsing it
    return email.utils.parseaddr(text)[1]


def _boundary(msg: EmailMessage) -> str:
    """A MIME boundary derived from the content, so equal messages give equal bytes."""
    parts = [part.as_bytes(policy=POLICY) for part in msg.iter_parts()]
    body = b"".join(parts)
    digest = hashlib.sha256(body).hexdigest()
    for length in range(24, len(digest) + 1, 8):
        candidate = f"=_digest_{digest[:length]}"
        if candidate.encode("ascii") not in body:
            return candidate
    return f"=_digest_{digest}_{len(body)}"
