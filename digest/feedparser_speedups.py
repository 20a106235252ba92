"""Shortcuts in feedparser's hottest helpers that give exactly the answers they replace.

feedparser is pure Python and does the same small chores for every element of
every entry; on a feed of short entries they cost about a third of its time:

- `FeedParserDict` looks each key up in a table of old key names (and tries a
  handful of special keys) before it reads the plain dict; for any other key
  that lookup cannot change the answer, so those keys go straight to the dict.
- Each entry's content settings are deep-copied, although they only ever hold
  strings, numbers and None (a shallow copy is the same value).
- Each entry's link and permalink guid are joined to the base URI. A plain
  absolute http(s) address comes back from that join unchanged, so it skips it.
  The joins whose answer hardly ever changes within a feed (the base URI of
  every element, from xml:base) are memoised instead.

Every shortcut falls back to feedparser's own code for anything unusual, and
`original()` switches them off again, which the tests use to check that the
corpus parses the same both ways. A feedparser other than 6.0.x is left alone.
"""

from __future__ import annotations

import contextlib
import functools
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import feedparser.mixin
import feedparser.namespaces._base
from feedparser.util import FeedParserDict

# FeedParserDict answers these keys with more than a dict lookup: the special
# keys of its __getitem__ and the old names of its key map.
_SPECIAL_KEYS = frozenset(
    {"category", "enclosures", "license", "updated", "updated_parsed", *FeedParserDict.keymap}
)
# An absolute http(s) address that urljoin returns as it is: a lower-case
# scheme, a host of plain characters, and a path without parameters, query or
# fragment (urljoin may respell those).
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.\-_~%!$&'()*+,=:@]+(?:/[!-\"$-:<->@-~]*)?\Z")

_originals: dict[tuple[object, str], Any] = {}


def apply() -> None:
    """Install the shortcuts (once; later calls do nothing)."""
    if _originals or not feedparser.__version__.startswith("6.0."):
        return
    _replace(FeedParserDict, "__getitem__", _getitem)
    _replace(FeedParserDict, "__contains__", _contains)
    _replace(FeedParserDict, "get", _get)
    _replace(FeedParserDict, "__setitem__", _setitem)
    _replace(feedparser.mixin, "copy", types.SimpleNamespace(deepcopy=_copy_settings))
    for module in (feedparser.mixin, feedparser.namespaces._base):
        for name in ("make_safe_absolute_uri", "_urljoin"):
            joined = getattr(module, name, None)
            if callable(joined):
                _replace(module, name, _plain_or(functools.lru_cache(maxsize=1024)(joined)))


@contextlib.contextmanager
def original() -> Iterator[None]:
    """feedparser exactly as it ships, for as long as the block runs."""
    installed = {key: getattr(*key) for key in _originals}
    for (owner, name), value in _originals.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for (owner, name), value in installed.items():
            setattr(owner, name, value)


def _replace(owner: object, name: str, value: object) -> None:
    _originals[(owner, name)] = getattr(owner, name)
    setattr(owner, name, value)


_dict_getitem = dict.__getitem__
_dict_contains = dict.__contains__
_dict_get = dict.get
_dict_setitem = dict.__setitem__
_feedparser_getitem = FeedParserDict.__getitem__
_feedparser_contains = FeedParserDict.__contains__
_feedparser_get = FeedParserDict.get
_KEYMAP: dict[str, Any] = FeedParserDict.keymap


def _getitem(self: FeedParserDict, key: str) -> Any:
    if key in _SPECIAL_KEYS:
        return _feedparser_getitem(self, key)
    return _dict_getitem(self, key)


def _contains(self: FeedParserDict, key: object) -> bool:
    if key in _SPECIAL_KEYS:
        return bool(_feedparser_contains(self, key))
    return _dict_contains(self, key)


def _get(self: FeedParserDict, key: str, default: Any = None) -> Any:
    if key in _SPECIAL_KEYS:
        return _feedparser_get(self, key, default)
    return _dict_get(self, key, default)


def _setitem(self: FeedParserDict, key: str, value: Any) -> None:
    if key in _KEYMAP:
        key = _KEYMAP[key]
        if isinstance(key, list):
            key = key[0]
    _dict_setitem(self, key, value)


def _copy_settings(settings: FeedParserDict) -> FeedParserDict:
    return FeedParserDict(settings)


def _plain_or(join: Callable[..., str]) -> Callable[..., str]:
    def joined(base: str, uri: str | None = None) -> str:
        if uri and _PLAIN_ABSOLUTE.match(uri):
            return uri
        return join(base, uri)

    return joined
