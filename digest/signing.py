"""DKIM signatures (dkimpy), added per message when `[dkim]` names a key.

RFC 8058 one-click unsubscribe only counts when a DKIM signature covers both
List-Unsubscribe and List-Unsubscribe-Post, so they are always in `h=`.
"""

from __future__ import annotations

import dkim

from digest.config import Config
from digest.message import sender_domain

SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)


class SigningError(Exception):
    """The DKIM key cannot be used; names the file."""


class Signer:
    def __init__(self, config: Config) -> None:
        settings = config.dkim
        assert settings.key_file is not None
        try:
            self.key = settings.key_file.read_bytes()
        except OSError as exc:
            raise SigningError(f"[dkim] key_file {settings.key_file}: {exc}") from exc
        self.selector = settings.selector.encode("ascii")
        self.domain = (settings.domain or sender_domain(config)).encode("ascii")
        try:
            self.sign(b"From: a@b.example\nSubject: key check\n\nbody\n")
        except dkim.DKIMException as exc:
            raise SigningError(f"[dkim] key_file {settings.key_file}: {exc}") from exc

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header first (LF line endings, like the rest)."""
        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=list(SIGNED_HEADERS),
            linesep=b"\n",
        )
        return signature.replace(b"\r\n", b"\n") + message
