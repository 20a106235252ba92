"""Read digest.toml into typed, validated settings.

Config is data: one TOML file, every key known, every value checked, and every
error names the file and the key so the user can fix it without guessing.
Secrets never live here; settings that need one name an environment variable.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.models import Theme

CONFIG_NAME = "digest.toml"


# Every key the config may hold, by table; README's config reference documents each one.
KEYS: dict[str, frozenset[str]] = {
    "newsletter": frozenset(
        {
            "name",
            "tagline",
            "language",
            "from",
            "to",
            "unsubscribe_url",
            "unsubscribe_mailto",
            "archive_url",
            "timezone",
            "send_time",
        }
    ),
    "build": frozenset({"out", "max_stories", "must_reads", "window_days"}),
    "state": frozenset({"path"}),
    "templates": frozenset({"dir"}),
    "sources": frozenset({"name", "path", "url", "weight", "theme", "enabled"}),
    "themes": frozenset({"key", "name", "description", "terms"}),
    "catch_all": frozenset({"key", "name", "description"}),
    "serve": frozenset({"host", "port"}),
}


class ConfigError(Exception):
    """A config problem, worded for the user: the file, the key, what is wrong."""


@dataclass(frozen=True)
class Newsletter:
    name: str = "The Digest"
    tagline: str = "Today's most important technology news, in one read."
    language: str = "en"
    sender: str = "The Digest <digest@example.com>"
    recipients: tuple[str, ...] = ("readers@example.com",)
    unsubscribe_url: str = "https://example.com/unsubscribe"
    unsubscribe_mailto: str = "unsubscribe@example.com"
    archive_url: str = ""
    timezone: str = "UTC"
    send_time: dt.time = dt.time(6, 0)


@dataclass(frozen=True)
class BuildSettings:
    out: Path = Path("out")
    max_stories: int = 30
    must_reads: int = 10
    window_days: int = 3


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class Source:
    name: str
    path: Path | None = None
    url: str | None = None
    weight: float = 1.0
    theme: str | None = None
    enabled: bool = True

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)


@dataclass(frozen=True)
class Config:
    file: Path
    newsletter: Newsletter = field(default_factory=Newsletter)
    build: BuildSettings = field(default_factory=BuildSettings)
    state_path: Path = Path(".digest/state.sqlite")
    template_dir: Path | None = None
    sources: tuple[Source, ...] = ()
    themes: tuple[Theme, ...] = ()
    catch_all: Theme = field(default_factory=lambda: Theme(key="other", name="Everything else"))
    serve: ServeSettings = field(default_factory=ServeSettings)

    @property
    def root(self) -> Path:
        return self.file.parent


def find_config(explicit: Path | None, cwd: Path) -> Path:
    """The config to use: the one named, else digest.toml in the folder or any parent."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: no such config file")
        return explicit.resolve()
    for folder in (cwd, *cwd.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"no {CONFIG_NAME} in {cwd} or its parents; pass --config FILE or create one")


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(data, path.resolve())


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    t = _Table(data, path, "")
    t.only(frozenset(KEYS))
    root = path.parent

    nl = t.table("newsletter")
    nl.only(KEYS["newsletter"])
    default_nl = Newsletter()
    timezone = nl.text("timezone", default_nl.timezone)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise nl.error("timezone", f"unknown time zone {timezone!r}") from exc
    send_time_text = nl.text("send_time", default_nl.send_time.strftime("%H:%M"))
    try:
        send_time = dt.time.fromisoformat(send_time_text)
    except ValueError as exc:
        raise nl.error("send_time", f"expected HH:MM, got {send_time_text!r}") from exc
    unsubscribe_url = nl.text("unsubscribe_url", default_nl.unsubscribe_url)
    if not unsubscribe_url.startswith("https://"):
        raise nl.error("unsubscribe_url", "must be an https:// URL")
    archive_url = nl.text("archive_url", default_nl.archive_url)
    if archive_url and not archive_url.startswith("https://"):
        raise nl.error("archive_url", "must be an https:// URL")
    newsletter = Newsletter(
        name=nl.text("name", default_nl.name),
        tagline=nl.text("tagline", default_nl.tagline),
        language=nl.text("language", default_nl.language),
        sender=_address(nl, "from", default_nl.sender),
        recipients=tuple(nl.texts("to", list(default_nl.recipients))),
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=nl.text("unsubscribe_mailto", default_nl.unsubscribe_mailto),
        archive_url=archive_url,
        timezone=timezone,
        send_time=send_time,
    )

    b = t.table("build")
    b.only(KEYS["build"])
    default_b = BuildSettings()
    build = BuildSettings(
        out=root / b.text("out", str(default_b.out)),
        max_stories=b.integer("max_stories", default_b.max_stories, minimum=1),
        must_reads=b.integer("must_reads", default_b.must_reads, minimum=0),
        window_days=b.integer("window_days", default_b.window_days, minimum=1),
    )

    st = t.table("state")
    st.only(KEYS["state"])
    state_path = root / st.text("path", ".digest/state.sqlite")

    tp = t.table("templates")
    tp.only(KEYS["templates"])
    template_dir_text = tp.text("dir", "")
    template_dir = root / template_dir_text if template_dir_text else None
    if template_dir is not None and not template_dir.is_dir():
        raise tp.error("dir", f"no such folder: {template_dir}")

    sources = tuple(_source(s, root, i) for i, s in enumerate(t.table_list("sources")))
    names = [s.name for s in sources]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise t.error(f"sources[{i}].name", f"duplicate source name {name!r}")

    themes = tuple(_theme(th) for th in t.table_list("themes"))
    keys = [th.key for th in themes]
    for i, key in enumerate(keys):
        if keys.index(key) != i:
            raise t.error(f"themes[{i}].key", f"duplicate theme key {key!r}")
    for i, source in enumerate(sources):
        if source.theme is not None and source.theme not in keys:
            raise t.error(f"sources[{i}].theme", f"unknown theme {source.theme!r}")

    ca = t.table("catch_all")
    ca.only(KEYS["catch_all"])
    catch_all = Theme(
        key=ca.text("key", "other"),
        name=ca.text("name", "Everything else"),
        description=ca.text("description", "Stories that fit none of the themes."),
    )
    if catch_all.key in keys:
        raise ca.error("key", f"{catch_all.key!r} is also a theme key")

    return Config(
        file=path,
        newsletter=newsletter,
        build=build,
        state_path=state_path,
        template_dir=template_dir,
        sources=sources,
        themes=themes,
        catch_all=catch_all,
        serve=_parse_serve(t.table("serve")),
    )


def _parse_serve(t: _Table) -> ServeSettings:
    """Where `digest serve` listens: loopback unless the user says otherwise."""
    t.only(KEYS["serve"])
    default = ServeSettings()
    host = t.text("host", default.host)
    if not host.strip():
        raise t.error("host", "must not be empty")
    port = t.integer("port", default.port, minimum=0)
    if port > 65535:
        raise t.error("port", f"expected a port number up to 65535, got {port}")
    return ServeSettings(host=host, port=port)


def _source(t: _Table, root: Path, index: int) -> Source:
    t.only(KEYS["sources"])
    path_text = t.text("path", "")
    url = t.text("url", "")
    if bool(path_text) == bool(url):
        raise t.error("path", "a source needs exactly one of path = or url =")
    if url and not url.startswith(("http://", "https://")):
        raise t.error("url", f"expected an http(s) URL, got {url!r}")
    weight = t.number("weight", 1.0)
    if weight <= 0:
        raise t.error("weight", "must be greater than 0")
    path = root / path_text if path_text else None
    default_name = path_text or url
    return Source(
        name=t.text("name", default_name),
        path=path,
        url=url or None,
        weight=weight,
        theme=t.text("theme", "") or None,
        enabled=t.flag("enabled", True),
    )


def _theme(t: _Table) -> Theme:
    t.only(KEYS["themes"])
    key = t.text("key", "")
    if not key:
        raise t.error("key", "every theme needs a key")
    terms = t.texts("terms", [])
    if not terms:
        raise t.error("terms", "every theme needs at least one term")
    return Theme(
        key=key,
        name=t.text("name", key.title()),
        description=t.text("description", ""),
        terms=tuple(terms),
    )


def _address(t: _Table, key: str, default: str) -> str:
    value = t.text(key, default)
    if "@" not in value or "\n" in value or "\r" in value:
        raise t.error(key, f"expected an email address, got {value!r}")
    return value


class _Table:
    """A TOML table with its place in the file, so every error can say where."""

    def __init__(self, data: Mapping[str, Any], file: Path, where: str) -> None:
        self.data = data
        self.file = file
        self.where = where

    def error(self, key: str, message: str) -> ConfigError:
        name = f"{self.where}.{key}" if self.where else key
        return ConfigError(f"{self.file}: {name}: {message}")

    def only(self, allowed: frozenset[str]) -> None:
        for key in sorted(set(self.data) - allowed):
            raise self.error(key, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, key: str) -> _Table:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, "expected a table")
        return _Table(value, self.file, self._name(key))

    def table_list(self, key: str) -> list[_Table]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.error(key, f"expected [[{key}]] tables")
        return [_Table(v, self.file, f"{self._name(key)}[{i}]") for i, v in enumerate(value)]

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        return value

    def texts(self, key: str, default: list[str]) -> list[str]:
        value = self.data.get(key, default)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        return value

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key
