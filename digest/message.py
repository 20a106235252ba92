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

from digest.config import Config
from digest.models import Issue

# RFC 2045 allows 76-character encoded lines; the default policy writes 78.
POLICY = email.policy.default.clone(max_line_length=76)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def build_message(
    issue: Issue,
    html: str,
    text: str,
    config: Config,
    recipient: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message: text/plain first, then text/html, both QP UTF-8.

    MRML writes HTML lines of many kilobytes, so both parts are quoted-printable,
    never 7bit or 8bit.
    """
    nl = config.newsletter
    to = recipient if recipient is not None else ", ".join(nl.recipients)
    subject = clean_header_text(issue.subject) or clean_header_text(issue.title) or nl.name
    domain = sender_domain(config)

    msg = EmailMessage(policy=POLICY)
    msg["From"] = nl.sender
    msg["To"] = clean_header_text(to)
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(send_datetime(issue, config))
    msg["Message-ID"] = message_id(issue, subject, to, domain)
    msg["MIME-Version"] = "1.0"
    msg["List-Id"] = list_id(config)
    msg["List-Unsubscribe"] = list_unsubscribe(config)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    msg.set_boundary(_boundary(msg))
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on disk or on the wire, with the 76-column policy."""
    return msg.as_bytes(policy=POLICY)


def clean_header_text(value: str) -> str:
    """One line of header text: control characters (CR and LF above all) become spaces.

    A subject built from feed titles must never be able to end the header or add one.
    """
    return " ".join(_CONTROL.sub(" ", value).split())


def send_datetime(issue: Issue, config: Config) -> dt.datetime:
    """The issue date at the configured send time in the configured zone: never "now"."""
    nl = config.newsletter
    zone = zoneinfo.ZoneInfo(nl.timezone)
    return dt.datetime.combine(issue.date, nl.send_time).replace(tzinfo=zone)


def sender_domain(config: Config) -> str:
    """The domain of the From address, which owns the Message-ID and List-Id names."""
    _, address = email.utils.parseaddr(config.newsletter.sender)
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "localhost"


def message_id(issue: Issue, subject: str, recipient: str, domain: str) -> str:
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


def list_unsubscribe(config: Config) -> str:
    """RFC 2369/8058 List-Unsubscribe: the https one-click URL first, then the mailto."""
    nl = config.newsletter
    uris = [f"<{nl.unsubscribe_url}>"]
    mailto = nl.unsubscribe_mailto.strip()
    if mailto:
        uris.append(f"<{mailto if mailto.startswith('mailto:') else 'mailto:' + mailto}>")
    return ", ".join(uris)


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
