"""Link hygiene: tracking parameters out, https in, one canonical form for matching."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {"mc_cid", "mc_eid", "fbclid", "gclid", "gad_source", "_ga", "_gl", "mkt_tok", "truid"}
)
TRACKING_PREFIXES = ("utm_",)
# Mailchimp's click-tracking, unsubscribe and profile pages, all tied to one subscriber.
SUBSCRIBER_LINK_HOSTS = (".list-manage.com",)

# Outlets whose names can't be read off their domain.
KNOWN_OUTLETS = {
    "technologyreview.com": "MIT Technology Review",
    "nytimes.com": "The New York Times",
    "washingtonpost.com": "The Washington Post",
    "wsj.com": "The Wall Street Journal",
    "ft.com": "Financial Times",
    "theverge.com": "The Verge",
    "arstechnica.com": "Ars Technica",
    "techcrunch.com": "TechCrunch",
    "wired.com": "Wired",
    "reuters.com": "Reuters",
    "bloomberg.com": "Bloomberg",
    "404media.co": "404 Media",
    "restofworld.org": "Rest of World",
    "theatlantic.com": "The Atlantic",
    "spectrum.ieee.org": "IEEE Spectrum",
    "electrek.co": "Electrek",
    "cleantechnica.com": "CleanTechnica",
}

_DATE_IN_PATH = re.compile(r"/((?:19|20)\d\d)[/-](\d\d)[/-](\d\d)/")


def clean_url(url: str, base: str | None = None) -> str | None:
    """The link as we will show it: absolute, http(s) only, without tracking parameters.

    Returns None for links we must not show (javascript:, mailto:, relative with no base)
    and for a mailer's per-subscriber links (click trackers, unsubscribe pages): they
    hide where they go and act in the name of whoever received the e-mail.
    """
    parts = _clean_parts(url, base)
    return urlunsplit(parts) if parts else None


def _clean_parts(url: str, base: str | None = None) -> tuple[str, str, str, str, str] | None:
    """The parts of the clean link (see `clean_url`), or None."""
    url = url.strip().replace("\\_", "_")
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower()
    if host.endswith(SUBSCRIBER_LINK_HOSTS):
        return None
    query = _without_tracking(parts.query)
    # A text fragment ("#:~:text=…") only tells the browser where to scroll.
    fragment = "" if parts.fragment.startswith(":~:") else parts.fragment
    if "?" in fragment:
        # A mailer that appends "?utm_source=…" to a link with an anchor puts it here.
        anchor, tail = fragment.split("?", 1)
        tail = _without_tracking(tail)
        fragment = f"{anchor}?{tail}" if tail else anchor
    return ("https", host, parts.path or "/", query, fragment)


def _without_tracking(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
    return urlencode(kept, safe="/:@!$'()*,;~") if len(kept) < len(pairs) else query


def _is_tracking(key: str) -> bool:
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """A key under which two links to the same page compare equal.

    It is read off the clean link's parts (split again, the clean link gives the
    same parts back), or off the link as it is when it has no clean form.
    """
    parts = _clean_parts(url) or urlsplit(url)
    host = parts[1].lower().removeprefix("www.")
    path = parts[2].rstrip("/") or "/"
    return urlunsplit(("https", host, path, parts[3], ""))


def domain(url: str) -> str:
    return urlsplit(url).netloc.lower().removeprefix("www.")


def outlet_for(url: str) -> str:
    """The outlet's name for a link: a known name, else its bare domain."""
    host = domain(url)
    for known, name in KNOWN_OUTLETS.items():
        if host == known or host.endswith("." + known):
            return name
    return host


def date_in_url(url: str) -> dt.date | None:
    """Many news sites put the publication date in the path: /2026/02/01/."""
    match = _DATE_IN_PATH.search(urlsplit(url).path + "/")
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def slug_words(url: str) -> set[str]:
    """The words of the last meaningful path segment (the slug), lower-cased."""
    segments = [s for s in urlsplit(url).path.split("/") if s and not s.isdigit()]
    if not segments:
        return set()
    slug = segments[-1].rsplit(".", 1)[0]
    return {w for w in re.split(r"[-_]+", slug.lower()) if w}
