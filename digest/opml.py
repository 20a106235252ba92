"""OPML in and out: the source list format every feed reader speaks.

Import adds `[[sources]]` tables to the user's digest.toml through tomlkit,
which keeps their comments and layout; the result is checked as a config
before the file is replaced (atomically), so a bad import never leaves a
config that no longer loads.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table, Whitespace

from digest.config import Config, ConfigError, parse_config
from digest.output import write_atomic


@dataclass(frozen=True)
class OpmlFeed:
    title: str
    url: str


def read_opml(path: Path) -> list[OpmlFeed]:
    """Every outline with an http(s) xmlUrl, nested folders included, in document order."""
    try:
        root = ET.fromstring(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except ET.ParseError as exc:
        raise ConfigError(f"{path}: not valid OPML (XML error: {exc})") from exc
    if root.tag != "opml":
        raise ConfigError(f"{path}: not OPML (the root element is <{root.tag}>)")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if url.startswith(("http://", "https://")):
            title = " ".join((outline.get("title") or outline.get("text") or "").split())
            feeds.append(OpmlFeed(title=title, url=url))
    return feeds


def import_sources(config_path: Path, feeds: list[OpmlFeed]) -> list[OpmlFeed]:
    """Add the feeds the config does not have yet; returns those added."""
    text = config_path.read_text("utf-8")
    doc = tomlkit.parse(text)
    existing = doc.get("sources")
    tables: list[Any] = list(existing) if existing is not None else []
    urls = {str(t.get("url", "")) for t in tables}
    names = {str(t.get("name", t.get("url", t.get("path", "")))) for t in tables}
    added: list[OpmlFeed] = []
    new_tables = []
    for feed in feeds:
        if feed.url in urls:
            continue
        urls.add(feed.url)
        table = tomlkit.table()
        if feed.title:
            name = _unique(feed.title, names)
            names.add(name)
            table["name"] = name
        table["url"] = feed.url
        new_tables.append(table)
        added.append(feed)
    if not new_tables:
        return []
    if isinstance(existing, AoT) and len(existing):
        _append_keeping_layout(existing, new_tables)
    else:
        aot = tomlkit.aot()
        for table in new_tables:
            aot.append(table)
        doc.append("sources", aot)
    result = tomlkit.dumps(doc)
    parse_config(tomlkit.parse(result).unwrap(), config_path)  # raises ConfigError if broken
    write_atomic(config_path, result.encode("utf-8"))
    return added


def _append_keeping_layout(aot: AoT, tables: list[Table]) -> None:
    """Comments after the last source belong to what follows it: keep them after the
    new sources, and keep a blank line between tables."""
    body = aot[-1].value.body
    trailing: list[tuple[Any, Any]] = []
    while body and body[-1][0] is None:
        trailing.insert(0, body.pop())
    for table in tables:
        aot[-1].value.body.append((None, Whitespace("\n")))
        aot.append(table)
    aot[-1].value.body.extend(trailing)


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def export_opml(config: Config) -> str:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{config.newsletter.name} sources"
    body = ET.SubElement(root, "body")
    for source in config.sources:
        if source.url is None:
            continue
        attrs = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": source.url}
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
