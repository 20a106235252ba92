"""Read digest.toml into typed, validated settings.

Config is data: one TOML file, every key known, every value checked, and every
error names the file and the key so the user can fix it without guessing.
Secrets never live here; settings that need one name an environment variable.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
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
    "sources": frozenset({"name", "path", "url", "weight", "theme", "enabled", "full_text"}),
    "themes": frozenset({"key", "name", "description", "terms", "within"}),
    "catch_all": frozenset({"key", "name", "description"}),
    "fetch": frozenset(
        {
            "timeout",
            "max_bytes",
            "concurrency",
            "per_host",
            "user_agent",
            "max_redirects",
            "backoff_minutes",
            "backoff_max_hours",
        }
    ),
    "send": frozenset(
        {
            "transport",
            "recipients_file",
            "envelope_from",
            "rate",
            "retries",
            "retry_delay",
            "command",
            "entry_point",
            "sync_interval",
        }
    ),
    "smtp": frozenset(
        {"host", "port", "security", "username", "password_env", "timeout", "ca_file"}
    ),
    "dkim": frozenset({"selector", "domain", "key_file"}),
    "serve": frozenset({"host", "port"}),
    "schedule": frozenset(
        {"collect_every_minutes", "build_cron", "timezone", "send", "grace_minutes", "coalesce"}
    ),
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


DEFAULT_USER_AGENT = "digest/0.1 (newsletter digest feed collector)"


@dataclass(frozen=True)
class FetchSettings:
    """How politely and how far `digest collect` reaches out to feed servers."""

    timeout: float = 20.0
    max_bytes: int = 10_000_000
    concurrency: int = 32
    per_host: int = 2
    user_agent: str = DEFAULT_USER_AGENT
    max_redirects: int = 5
    backoff_minutes: float = 30.0
    backoff_max_hours: float = 24.0


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class ScheduleSettings:
    """What `digest schedule` runs: a collect every N minutes, the daily issue on a cron time.

    `build_cron` is kept as written (checked at load time); `digest.schedule` turns it into
    a trigger. An empty `build_cron` or a zero interval turns that job off.
    """

    collect_every_minutes: float = 60.0
    build_cron: str = "0 6 * * *"
    timezone: str = "UTC"
    send: bool = False
    grace_minutes: float = 60.0
    coalesce: bool = True


@dataclass(frozen=True)
class Source:
    name: str
    path: Path | None = None
    url: str | None = None
    weight: float = 1.0
    theme: str | None = None
    enabled: bool = True
    full_text: bool = False  # fetch each new entry's page for its article (see fulltext.py)

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)


TRANSPORTS = ("smtp", "command", "python")
SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SendSettings:
    """How `digest send` delivers: which transport, to whom, how fast, how patiently."""

    transport: str = "smtp"
    recipients_file: Path | None = None
    envelope_from: str = ""
    rate: float = 0.0
    retries: int = 3
    retry_delay: float = 2.0
    command: tuple[str, ...] = ()
    entry_point: str = ""
    sync_interval: float = 1.0


@dataclass(frozen=True)
class SMTPSettings:
    """The relay; the password is read from the environment variable `password_env` names."""

    host: str = "localhost"
    port: int = 0
    security: str = "starttls"
    username: str = ""
    password_env: str = "DIGEST_SMTP_PASSWORD"
    timeout: float = 30.0
    ca_file: Path | None = None

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"tls": 465, "starttls": 587}.get(self.security, 25)


@dataclass(frozen=True)
class DKIMSettings:
    """DKIM signing is on when `selector` and `key_file` are both set."""

    selector: str = ""
    domain: str = ""
    key_file: Path | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.selector) and self.key_file is not None


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
    fetch: FetchSettings = field(default_factory=FetchSettings)
    send: SendSettings = field(default_factory=SendSettings)
    smtp: SMTPSettings = field(default_factory=SMTPSettings)
    dkim: DKIMSettings = field(default_factory=DKIMSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)

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
    for i, theme in enumerate(themes):
        if theme.within is not None and (theme.within not in keys or theme.within == theme.key):
            raise t.error(f"themes[{i}].within", f"unknown broader theme {theme.within!r}")
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
        fetch=_parse_fetch(t.table("fetch")),
        send=_parse_send(t.table("send"), root),
        smtp=_parse_smtp(t.table("smtp"), root),
        dkim=_parse_dkim(t.table("dkim"), root),
        serve=_parse_serve(t.table("serve")),
        schedule=_parse_schedule(t.table("schedule"), newsletter),
    )


def _parse_send(t: _Table, root: Path) -> SendSettings:
    t.only(KEYS["send"])
    default = SendSettings()
    transport = t.text("transport", default.transport)
    if transport not in TRANSPORTS:
        raise t.error("transport", f"expected one of {', '.join(TRANSPORTS)}, got {transport!r}")
    recipients_file = t.text("recipients_file", "")
    envelope_from = t.text("envelope_from", "")
    if envelope_from:
        envelope_from = _address(t, "envelope_from", "")
    rate = t.number("rate", default.rate)
    if rate < 0:
        raise t.error("rate", "must be 0 (no limit) or more messages per second")
    retry_delay = t.number("retry_delay", default.retry_delay)
    if retry_delay < 0:
        raise t.error("retry_delay", "must be 0 or more seconds")
    command = t.data.get("command", [])
    if isinstance(command, str):
        command = shlex.split(command)
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise t.error("command", f"expected a command line or a list of strings, got {command!r}")
    if transport == "command" and not command:
        raise t.error("command", 'transport = "command" needs a command, e.g. "sendmail -t -i"')
    entry_point = t.text("entry_point", "")
    if entry_point and not re.fullmatch(r"[\w.]+:[\w.]+", entry_point):
        raise t.error("entry_point", f"expected module:function, got {entry_point!r}")
    if transport == "python" and not entry_point:
        raise t.error("entry_point", 'transport = "python" needs an entry_point module:function')
    sync_interval = t.number("sync_interval", default.sync_interval)
    if sync_interval < 0:
        raise t.error("sync_interval", "must be 0 (sync before every message) or more seconds")
    return SendSettings(
        transport=transport,
        recipients_file=root / recipients_file if recipients_file else None,
        envelope_from=envelope_from,
        rate=rate,
        retries=t.integer("retries", default.retries, minimum=0),
        retry_delay=retry_delay,
        command=tuple(command),
        entry_point=entry_point,
        sync_interval=sync_interval,
    )


def _parse_smtp(t: _Table, root: Path) -> SMTPSettings:
    t.only(KEYS["smtp"])
    default = SMTPSettings()
    security = t.text("security", default.security)
    if security not in SECURITY:
        raise t.error("security", f"expected one of {', '.join(SECURITY)}, got {security!r}")
    timeout = t.number("timeout", default.timeout)
    if timeout <= 0:
        raise t.error("timeout", "must be more than 0 seconds")
    port = t.integer("port", default.port, minimum=0)
    if port > 65535:
        raise t.error("port", f"expected a port number, got {port}")
    password_env = t.text("password_env", default.password_env)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", password_env):
        raise t.error(
            "password_env", "expected the name of an environment variable, not a password"
        )
    ca_file = t.text("ca_file", "")
    return SMTPSettings(
        host=t.text("host", default.host),
        port=port,
        security=security,
        username=t.text("username", default.username),
        password_env=password_env,
        timeout=timeout,
        ca_file=root / ca_file if ca_file else None,
    )


def _parse_dkim(t: _Table, root: Path) -> DKIMSettings:
    t.only(KEYS["dkim"])
    selector = t.text("selector", "")
    key_file = t.text("key_file", "")
    if bool(selector) != bool(key_file):
        raise t.error(
            "key_file" if selector else "selector", "DKIM needs both selector and key_file"
        )
    return DKIMSettings(
        selector=selector,
        domain=t.text("domain", ""),
        key_file=root / key_file if key_file else None,
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


def _parse_schedule(t: _Table, newsletter: Newsletter) -> ScheduleSettings:
    """The scheduler's jobs; a bad cron expression or zone is caught here, before any start.

    The default cron (from `send_time`) is always valid, so only one the config
    gives is tried: that needs APScheduler, which costs every command a tenth of
    a second to import.
    """
    t.only(KEYS["schedule"])
    at = newsletter.send_time
    default_cron = f"{at.minute} {at.hour} * * *"
    every = t.number("collect_every_minutes", ScheduleSettings.collect_every_minutes)
    if every < 0:
        raise t.error("collect_every_minutes", "must be 0 (no collecting) or more minutes")
    grace = t.number("grace_minutes", ScheduleSettings.grace_minutes)
    if grace < 0:
        raise t.error("grace_minutes", "must be 0 or more minutes")
    timezone = t.text("timezone", newsletter.timezone)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise t.error("timezone", f"unknown time zone {timezone!r}") from exc
    cron = t.text("build_cron", default_cron).strip()
    if cron and cron != default_cron:
        from digest.schedule import CronError, daily_trigger

        try:
            daily_trigger(cron, timezone)
        except CronError as exc:
            raise t.error("build_cron", str(exc)) from exc
    return ScheduleSettings(
        collect_every_minutes=every,
        build_cron=cron,
        timezone=timezone,
        send=t.flag("send", ScheduleSettings.send),
        grace_minutes=grace,
        coalesce=t.flag("coalesce", ScheduleSettings.coalesce),
    )


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
    full_text = t.flag("full_text", False)
    if full_text and not url:
        raise t.error("full_text", "applies to a feed (url =) only; a local file is read whole")
    default_name = path_text or url
    return Source(
        name=t.text("name", default_name),
        path=path,
        url=url or None,
        weight=weight,
        theme=t.text("theme", "") or None,
        enabled=t.flag("enabled", True),
        full_text=full_text,
    )


def _parse_fetch(t: _Table) -> FetchSettings:
    t.only(KEYS["fetch"])
    d = FetchSettings()
    timeout = t.number("timeout", d.timeout)
    if timeout <= 0:
        raise t.error("timeout", "must be greater than 0")
    backoff_minutes = t.number("backoff_minutes", d.backoff_minutes)
    backoff_max_hours = t.number("backoff_max_hours", d.backoff_max_hours)
    if backoff_minutes < 0 or backoff_max_hours < 0:
        raise t.error("backoff_minutes", "backoff must not be negative")
    user_agent = t.text("user_agent", d.user_agent)
    if not user_agent.strip() or "\n" in user_agent or "\r" in user_agent:
        raise t.error("user_agent", "must be one non-empty line")
    return FetchSettings(
        timeout=timeout,
        max_bytes=t.integer("max_bytes", d.max_bytes, minimum=1024),
        concurrency=t.integer("concurrency", d.concurrency, minimum=1),
        per_host=t.integer("per_host", d.per_host, minimum=1),
        user_agent=user_agent,
        max_redirects=t.integer("max_redirects", d.max_redirects, minimum=0),
        backoff_minutes=backoff_minutes,
        backoff_max_hours=backoff_max_hours,
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
        within=t.text("within", "") or None,
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
