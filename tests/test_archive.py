"""The static archive and feed written after every build; preview parts that need no browser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Golden

from digest.archive import Archive, ArchiveEntry, read_archive, render_index
from digest.config import ConfigError, load_config, parse_config
from digest.live import LiveBuilder
from digest.pipeline import build
from digest.preview import Preview, force_dark, report_view
from digest.store import Database, SQLiteHistory

REPO = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"
DATE = dt.date(2026, 11, 22)


def build_issues(tmp_path: Path, *dates: dt.date, archive_url: str = "") -> Path:
    """Build the seed issues for `dates` with the shipped config; returns the output folder."""
    config = load_config(REPO / "digest.toml")
    config = dataclasses.replace(
        config,
        newsletter=dataclasses.replace(config.newsletter, archive_url=archive_url),
    )
    out = tmp_path / "out"
    database = Database(tmp_path / "state.sqlite")
    try:
        for date in dates:
            build(config, date, out, SQLiteHistory(database))
    finally:
        database.close()
    return out


def test_a_build_writes_the_archive_page_and_the_feed_next_to_the_issues(
    tmp_path: Path, golden: Golden
) -> None:
    out = build_issues(tmp_path, DATE)
    golden("seeds-2026-11-22/index.html", (out / "index.html").read_text("utf-8"))
    golden("seeds-2026-11-22/feed.xml", (out / "feed.xml").read_text("utf-8"))


def test_the_feed_is_atom_with_one_entry_per_issue_newest_first(tmp_path: Path) -> None:
    out = build_issues(tmp_path, DATE, DATE + dt.timedelta(days=1))
    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}updated") for e in entries] == [
        "2026-11-23T06:00:00-05:00",
        "2026-11-22T06:00:00-05:00",
    ]
    assert feed.findtext(f"{ATOM}updated") == "2026-11-23T06:00:00-05:00"
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 2 and all(i and i.startswith("tag:example.com,") for i in ids)
    links = [e.find(f"{ATOM}link") for e in entries]
    assert [link.get("href") for link in links if link is not None] == [
        "2026-11-23/digest.html",
        "2026-11-22/digest.html",
    ]
    first = entries[1].findtext(f"{ATOM}summary") or ""
    assert first.startswith("17 stories, led by “What’s next for EV batteries in 2026”. Also:")


def test_with_an_archive_url_the_feed_links_are_absolute(tmp_path: Path) -> None:
    out = build_issues(tmp_path, DATE, archive_url="https://news.example.com/archive")
    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.get("{http://www.w3.org/XML/1998/namespace}base") == (
        "https://news.example.com/archive/"
    )
    assert feed.findtext(f"{ATOM}id") == "https://news.example.com/archive/feed.xml"
    self_links = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_links[0].get("href") == "https://news.example.com/archive/feed.xml"


def test_an_unreadable_issue_is_left_out_of_the_archive_and_the_build_goes_on(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "out" / "2026-01-01"
    broken.mkdir(parents=True)
    (broken / "digest.json").write_text("{not json", "utf-8")
    out = build_issues(tmp_path, DATE)
    archive = read_archive(out)
    assert [e.date for e in archive.entries] == [DATE]
    assert "2026-01-01" in archive.skipped[0].origin
    assert "2026-01-01" not in (out / "index.html").read_text("utf-8")


def test_the_archive_escapes_headlines() -> None:
    entry = ArchiveEntry(
        date=DATE,
        title="The Digest",
        subject="The Digest: <b>hi</b>",
        lead="<script>alert(1)</script>",
        headlines=("<script>alert(1)</script>",),
        stories=1,
        sections=1,
        must_reads=0,
    )
    config = load_config(REPO / "digest.toml")
    page = render_index(Archive(entries=(entry,)), config)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1 story in 1 section, 0 must-reads" in page


def test_the_report_view_counts_stories_per_source_and_per_theme(tmp_path: Path) -> None:
    out = build_issues(tmp_path, DATE)
    view = report_view(json.loads((out / DATE.isoformat() / "digest.json").read_text("utf-8")))
    sources = {bar.label: bar.count for bar in view.by_source}
    themes = {bar.label: bar.count for bar in view.by_theme}
    assert sources["The Download"] == 14 and sources["MIT Technology Review"] == 4
    assert sum(themes.values()) == 17
    assert view.by_source[0].percent == 100.0
    assert len(view.notes["merged"]) == 1 and view.notes["merged"][0].stage == "merge"


def test_the_dark_view_switches_on_dark_rules_and_off_light_ones() -> None:
    html = (
        "<style>@media (prefers-color-scheme: dark) { a {} } "
        "@media screen and (prefers-color-scheme:light) { b {} }</style>"
    )
    assert force_dark(html) == (
        "<style>@media (min-width: 0px) { a {} } "
        "@media screen and (max-width: 0px) { b {} }</style>"
    )


def test_an_undefined_variable_in_a_template_is_reported_with_its_file_and_line(
    tmp_path: Path,
) -> None:
    templates = tmp_path / "mine" / "email"
    templates.mkdir(parents=True)
    footer = templates / "_footer.mjml.j2"
    footer.write_text("<mj-section><mj-column>\n<mj-text>{{ no_such_thing }}</mj-text>\n", "utf-8")
    text = (REPO / "digest.toml").read_text("utf-8")
    text = text.replace('path = "seeds"', f'path = "{REPO / "seeds"}"')
    text = text.replace("[state]", '[templates]\ndir = "mine"\n\n[state]')
    (tmp_path / "digest.toml").write_text(text, "utf-8")
    config = load_config(tmp_path / "digest.toml")
    status = LiveBuilder(config, tmp_path / "out", DATE).rebuild()
    assert status.version == 1
    assert status.problem is not None
    assert "no_such_thing" in status.problem.message
    assert (status.problem.file, status.problem.line) == (str(footer), 2)


def test_serve_settings_default_to_loopback_and_reject_bad_ports(tmp_path: Path) -> None:
    path = tmp_path / "digest.toml"
    config = parse_config({}, path)
    assert (config.serve.host, config.serve.port) == ("127.0.0.1", 8000)
    with pytest.raises(ConfigError, match=r"digest\.toml: serve\.port: .*65535"):
        parse_config({"serve": {"port": 70000}}, path)
    with pytest.raises(ConfigError, match=r"serve\.bind: unknown key"):
        parse_config({"serve": {"bind": "0.0.0.0"}}, path)


def test_a_broken_web_template_gives_an_error_page_that_names_the_line(tmp_path: Path) -> None:
    web = tmp_path / "mine" / "web"
    web.mkdir(parents=True)
    (web / "archive.html.j2").write_text(
        "{% extends 'web/_layout.html.j2' %}\n{% block main %}{% for %}{% endblock %}\n", "utf-8"
    )
    config = dataclasses.replace(load_config(REPO / "digest.toml"), template_dir=tmp_path / "mine")
    response = Preview(LiveBuilder(config, tmp_path / "out", DATE)).respond("/")
    assert response.status == 500
    assert f"{web / 'archive.html.j2'}, line 2".encode() in response.body
    assert b'<script src="/static/live.js" defer></script>' in response.body
