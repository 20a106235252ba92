"""Who gets the issue: addresses from the command line, a CSV file or the config.

Every address is checked before anything is sent, so a typo on line 4,812 of a
subscriber file stops the run up front instead of half-way through it. The
same address twice (whatever its case) is one reader and gets one message.
"""

from __future__ import annotations

import csv
import email.utils
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from digest.config import Config

# A pragmatic addr-spec: dot-atom local part, a dotted domain of DNS labels (or a
# bracketed literal). Quoted local parts are legal but never seen in subscriber lists.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})+|\[[0-9A-Fa-f:.]+\])"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")


class RecipientError(Exception):
    """A recipient that cannot be mailed, with the file and line (or setting) at fault."""


@dataclass(frozen=True)
class Recipient:
    """One reader: `to` is what the To header shows, `address` the mailbox (RCPT TO)."""

    address: str
    to: str

    @property
    def key(self) -> str:
        """The reader's identity in the send log: the address, case-folded."""
        return self.address.lower()


def parse_recipient(text: str, where: str) -> Recipient:
    """`reader@example.com` or `Ann Example <ann@example.com>`; `where` names the place."""
    if any(c in text for c in "\r\n\x00"):
        raise RecipientError(f"{where}: a line break inside an address: {text!r}")
    bare = text.strip()
    if _ADDRESS.fullmatch(bare) and len(bare) <= 254:
        return Recipient(address=bare, to=bare)  # what getaddresses finds, twenty times faster
    found = email.utils.getaddresses([bare])
    name, address = found[0] if len(found) == 1 else ("", "")
    if not address or not _ADDRESS.fullmatch(address) or len(address) > 254:
        raise RecipientError(f"{where}: not a valid email address: {text.strip()!r}")
    to = email.utils.formataddr((name, address)) if name else address
    return Recipient(address=address, to=to)


def unique(recipients: Iterable[Recipient]) -> tuple[Recipient, ...]:
    """Each reader once, in first-seen order; the same address in another case is the same."""
    seen: set[str] = set()
    out: list[Recipient] = []
    for recipient in recipients:
        if recipient.key not in seen:
            seen.add(recipient.key)
            out.append(recipient)
    return tuple(out)


def read_csv(path: Path) -> list[Recipient]:
    """Every reader of a recipients file, in order; see `iter_csv`."""
    return list(iter_csv(path))


def iter_csv(path: Path) -> Iterator[Recipient]:
    """A CSV with an `email` column (and optionally `name`), or one address per line.

    The header row is optional: without a column called `email`, the first
    column of every row is the address. Blank lines and lines starting with `#`
    are skipped. The file is read as it is consumed, so a list of a million
    readers never sits in memory; a bad line raises when it is reached.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            yield from _rows(path, file)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RecipientError(f"{path}: cannot read the recipients file: {exc}") from exc


def _rows(path: Path, file: TextIO) -> Iterator[Recipient]:
    rows = csv.reader(file)
    email_col, name_col, first, line = 0, None, True, 1
    for row in rows:
        number, line = line, rows.line_num + 1  # where the row starts; a quoted one spans lines
        if first:
            first = False
            header = [cell.strip().lower() for cell in row]
            if "email" in header:
                email_col = header.index("email")
                name_col = header.index("name") if "name" in header else None
                continue
        if not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        where = f"{path}, line {number}"
        if email_col >= len(row):
            raise RecipientError(f"{where}: no email column")
        recipient = parse_recipient(row[email_col], where)
        name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
        if name:
            if any(c in name for c in "\r\n\x00"):
                raise RecipientError(f"{where}: a line break inside a name: {name!r}")
            recipient = Recipient(
                recipient.address, email.utils.formataddr((name, recipient.address))
            )
        yield recipient


def load_recipients(config: Config, override: Iterable[str] = ()) -> tuple[Recipient, ...]:
    """The readers of this run, all in memory: every address checked, duplicates removed."""
    return unique(iter_recipients(config, override))


def iter_recipients(config: Config, override: Iterable[str] = ()) -> Iterator[Recipient]:
    """The readers of this run as they are read: `--to` if given, else `[send]
    recipients_file`, else `[newsletter] to`. Every address is checked; duplicates
    are left to the consumer (the send log keeps the first of each)."""
    given = list(override)
    if given:
        yield from (parse_recipient(a, "--to") for a in given)
        return
    path = config.send.recipients_file
    if path is not None:
        found = False
        for recipient in iter_csv(path):
            found = True
            yield recipient
        if not found:
            raise RecipientError(f"{path}: no recipients in the file")
        return
    yield from (
        parse_recipient(a, f"{config.file}: newsletter.to[{i}]")
        for i, a in enumerate(config.newsletter.recipients)
    )
