"""The render stage: an Issue becomes email-ready HTML, a text twin, JSON and a .eml."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from conftest import EmailLint, Golden

from digest.config import Config, Newsletter
from digest.message import Mailing, build_message, message_bytes
from digest.models import (
    BuildReport,
    Issue,
    Item,
    Link,
    Note,
    Quote,
    Section,
    SourceRef,
    Story,
    Theme,
)
from digest.render import (
    render_html,
    render_issue,
    render_text,
    template_environment,
    wrap,
)

AI = Theme(key="ai", name="Artificial intelligence", terms=("ai",))
CLIMATE = Theme(key="climate", name="Climate & energy", terms=("climate",))
DATE = dt.date(2026, 11, 22)
EVIL_SUBJECT = "The Download: chips & grids\r\nBcc: evil@example.com"
REQUIRED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


# --- building the sample issue -------------------------------------------------


def make_item(story_id: str, title: str, url: str | None, source: str | None) -> Item:
    return Item(
        id=f"{story_id}-item",
        origin=f"seeds/{story_id}.md",
        title=title,
        url=url,
        source=source,
        published=dt.date(2026, 11, 21) if url else None,
        blocks=(),
        paywalled=source == "WSJ",
    )


def make_story(
    story_id: str,
    title: str,
    *,
    kind: str = "feature",
    theme: str = "ai",
    url: str | None = "auto",
    source: str | None = "Wired",
    published: dt.date | None = dt.date(2026, 11, 21),
    sources: tuple[SourceRef, ...] | None = None,
    related: tuple[Link, ...] = (),
) -> Story:
    link = f"https://news.example.org/{story_id}" if url == "auto" else url
    return Story(
        id=story_id,
        title=title,
        url=link,
        source=source,
        published=published,
        summary=f"What happened in {title.lower()}, and why it matters to you.",
        items=(make_item(story_id, title, link, source),),
        sources=sources if sources is not None else ((SourceRef(source, link),) if source else ()),
        kind="brief" if kind == "brief" else "feature",
        theme=theme,
        related=related,
    )


def small_issue() -> Issue:
    lead = make_story(
        "lead",
        "A new chip doubles the speed of language models",
        sources=(
            SourceRef("Wired", "https://www.wired.com/story/chip"),
            SourceRef("The Verge", "https://www.theverge.com/chip", via="The Download"),
            SourceRef("Wired", "https://www.wired.com/story/chip", via="The Download"),
        ),
    )
    escaped = make_story(
        "escape",
        "Researchers test <script>alert(1)</script> & other tricks",
        source="Ars Technica",
    )
    no_url = make_story(
        "nourl",
        "A grid operator quietly changes its forecasts",
        theme="climate",
        url=None,
        source="Grid Weekly",
        published=None,
    )
    climate_feature = make_story(
        "heat", "Heat pumps outsell gas boilers for the first time", theme="climate"
    )
    briefs = (
        make_story(
            "b1",
            "Chipmakers race to build fabs in Arizona",
            kind="brief",
            source="WSJ",
            related=(
                Link("The water problem nobody planned for", "https://www.nytimes.com/w", "NYT"),
            ),
        ),
        make_story(
            "b2",
            "A robot learns to fold laundry",
            kind="brief",
            source="MIT Technology Review",
            related=(
                Link("How it was trained", "https://www.technologyreview.com/robot"),
                Link("An insecure link that must not appear", "http://insecure.example.com/"),
            ),
        ),
        make_story(
            "b3",
            "Solar prices fall again",
            kind="brief",
            theme="climate",
            source="Bloomberg",
            related=(Link("Why it keeps happening", "https://www.bloomberg.com/solar"),),
        ),
    )
    return Issue(
        date=DATE,
        newsletter="The Download",
        title="The Download: chips & grids",
        subject=EVIL_SUBJECT,
        preheader="Plus: a robot that folds laundry, and heat pumps win.",
        lead=lead,
        sections=(
            Section(AI, (lead, escaped, briefs[0], briefs[1])),
            Section(CLIMATE, (climate_feature, no_url, briefs[2])),
        ),
        must_reads=briefs,
        quote=Quote(
            text="We are building the plane while flying it.",
            attribution="an anonymous chip executive",
            source="The Information",
            url="https://www.theinformation.com/quote",
        ),
        report=BuildReport(
            corrections=(Note("clean", "seeds/b1.md", "title had a trailing pipe"),),
            dropped=(Note("dedupe", "seeds/old.md", "older than the window"),),
        ),
    )


def empty_issue() -> Issue:
    return Issue(
        date=DATE,
        newsletter="The Download",
        title="The Download",
        subject="The Download: a quiet day",
        preheader="Nothing new today.",
        lead=None,
        sections=(),
        must_reads=(),
        quote=None,
    )


def big_issue(count: int = 30) -> Issue:
    stories = tuple(
        make_story(
            f"s{i:02d}",
            f"Story number {i} about a fairly long headline on technology policy",
            kind="brief" if i % 3 == 0 else "feature",
            related=(Link("Related reading on the same topic", f"https://example.org/r{i}"),),
        )
        for i in range(count)
    )
    return Issue(
        date=DATE,
        newsletter="The Download",
        title="The Download",
        subject="The Download: a big day",
        preheader="Thirty stories.",
        lead=stories[1],
        sections=(Section(AI, stories),),
        must_reads=tuple(s for s in stories if s.kind == "brief"),
        quote=None,
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        file=tmp_path / "digest.toml",
        newsletter=Newsletter(
            name="The Download",
            tagline="Your daily dose of what's up in emerging technology.",
            sender="The Download <download@news.example.com>",
            recipients=("reader@example.net",),
            unsubscribe_url="https://news.example.com/unsubscribe",
            unsubscribe_mailto="unsubscribe@news.example.com",
            archive_url="https://news.example.com/archive",
            timezone="America/New_York",
            send_time=dt.time(6, 30),
        ),
        themes=(AI, CLIMATE),
    )


# --- parsing helpers ----------------------------------------------------------


class Page(HTMLParser):
    """The parts of an HTML page the assertions need: tags, links and text in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[tuple[str, dict[str, str]]] = []
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        self.in_body = self.in_body or tag == "body"

    def handle_data(self, data: str) -> None:
        if self.in_body and data.strip():
            self.texts.append((data.strip(), self.tags[-1][1]))

    def attrs(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]


def parse_html(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def parse_eml(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def part_text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


# --- HTML ---------------------------------------------------------------------


def test_html_has_no_script_and_only_absolute_https_links(config: Config) -> None:
    page = parse_html(render_html(small_issue(), config))
    assert not page.attrs("script")
    hrefs = [a["href"] for a in page.attrs("a") if "href" in a]
    sources = [a["src"] for a in page.attrs("img") if "src" in a]
    assert hrefs
    for url in hrefs + sources:
        assert url.startswith("https://"), url
    assert "http://insecure.example.com/" not in hrefs


def test_item_text_is_escaped_never_markup(config: Config) -> None:
    html = render_html(small_issue(), config)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; other tricks" in html
    page = parse_html(html)
    assert any("<script>alert(1)</script> & other tricks" in t for t, _ in page.texts)


def test_html_declares_the_newsletter_language(config: Config) -> None:
    page = parse_html(render_html(small_issue(), config))
    assert page.attrs("html")[0]["lang"] == "en"


def test_html_content_is_600px_wide(config: Config) -> None:
    page = parse_html(render_html(small_issue(), config))
    styles = [a.get("style", "") for t, a in page.tags]
    assert any("max-width:600px" in s for s in styles)
    assert not any(re.search(r"(?<![-\w])width:\s*(\d{4,}|[7-9]\d\d)px", s) for s in styles)


def test_hidden_preheader_is_the_first_body_text(config: Config) -> None:
    page = parse_html(render_html(small_issue(), config))
    first_text, attrs = page.texts[0]
    assert first_text == small_issue().preheader
    assert "display:none" in attrs["style"].replace(" ", "")


def test_html_reads_like_the_download(config: Config) -> None:
    page = parse_html(render_html(small_issue(), config))
    words = [t for t, _ in page.texts]
    assert "Sunday, November 22, 2026".upper() in words
    for heading in ("Artificial intelligence", "Climate & energy", "The must-reads"):
        assert heading in words
    assert "Quote of the day" in words
    assert words.count("Read the full story") == 3  # lead, escape, heat; not the url-less one
    assert "Unsubscribe" in words


def test_an_outlet_is_credited_once_per_story(config: Config) -> None:
    text = render_text(small_issue(), config)
    assert "via Wired [2] · The Verge [3] · The Download" in text
    assert text.count("[2]") == 2  # the credit line and the Links list


def test_lead_is_not_repeated_in_its_section(config: Config) -> None:
    html = render_html(small_issue(), config)
    assert html.count("A new chip doubles the speed of language models") == 1


def test_story_without_url_has_no_read_link_and_no_date(config: Config) -> None:
    html = render_html(small_issue(), config)
    block = html.split("A grid operator quietly changes its forecasts", 1)[1].split("</mj", 1)[0]
    story_part = block.split("</table>", 1)[0]
    assert "Read the full story" not in story_part
    assert "November 22, 2026" not in html.replace("NOVEMBER 22, 2026", "")


def test_html_stays_under_the_gmail_clip_with_thirty_stories(config: Config) -> None:
    html = render_html(big_issue(30), config)
    assert len(html.encode("utf-8")) < 90 * 1024


def test_empty_issue_still_renders_an_email_saying_nothing_is_new(config: Config) -> None:
    html = render_html(empty_issue(), config)
    text = render_text(empty_issue(), config)
    assert "Nothing new today" in html
    assert "NOTHING NEW TODAY" in text
    assert config.newsletter.unsubscribe_url in text


def test_dark_mode_is_declared(config: Config) -> None:
    html = render_html(small_issue(), config)
    page = parse_html(html)
    metas = {a.get("name"): a.get("content") for a in page.attrs("meta")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    assert "@media (prefers-color-scheme: dark)" in html


# --- text ---------------------------------------------------------------------


def test_text_lines_fit_78_columns_except_bare_urls(config: Config) -> None:
    text = render_text(small_issue(), config)
    long_lines = [ln for ln in text.splitlines() if len(ln) > 78]
    assert all(re.fullmatch(r"(\[\d+\] |\w+ ?\w*: )?https://\S+", ln) for ln in long_lines)


def test_text_links_are_numbered_by_first_use_and_listed_once(config: Config) -> None:
    text = render_text(small_issue(), config)
    body, links = text.split("\nLinks\n", 1)
    listed = re.findall(r"^\[(\d+)\] (https://\S+)$", links, re.M)
    numbers = [int(n) for n, _ in listed]
    assert numbers == list(range(1, len(numbers) + 1))
    urls = [u for _, u in listed]
    assert len(urls) == len(set(urls))
    first_use = []
    for n in re.findall(r"\[(\d+)\]", body):
        if int(n) not in first_use:
            first_use.append(int(n))
    assert first_use == numbers
    assert "https://news.example.org/lead" in urls
    assert "http://insecure.example.com/" not in text


def test_text_part_has_no_html_tags_or_entities(config: Config) -> None:
    text = render_text(small_issue(), config)
    assert not re.search(r"</?[a-zA-Z][^>]*>", text)
    assert "&amp;" not in text and "&lt;" not in text
    assert "Climate & energy".upper() in text


def test_text_mirrors_the_sections_must_reads_and_quote(config: Config) -> None:
    text = render_text(small_issue(), config)
    order = [
        "TOP STORY",
        "ARTIFICIAL INTELLIGENCE",
        "CLIMATE & ENERGY",
        "THE MUST-READS",
        "QUOTE OF THE DAY",
        "Unsubscribe: https://news.example.com/unsubscribe",
        "Links",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert re.search(r"^1\. Chipmakers", text, re.M)
    assert re.search(r"^3\. Solar prices", text, re.M)
    assert "+ The water problem nobody planned for (NYT)" in text
    assert "+ How it was trained (technologyreview.com)" in text


def test_wrap_never_breaks_words_or_urls() -> None:
    url = "https://example.com/" + "a" * 90
    wrapped = wrap(f"see {url} for more words that go on and on", width=20, indent="  ")
    assert f"  {url}" in wrapped.splitlines()
    assert all(len(ln) <= 20 for ln in wrapped.splitlines() if "https" not in ln)


# --- the message --------------------------------------------------------------


def test_the_text_part_comes_before_the_html_part(config: Config) -> None:
    msg = parse_eml(render_issue(small_issue(), config).eml)
    assert msg.get_content_type() == "multipart/alternative"
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "text/html"]
    for part in msg.iter_parts():
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"


def test_every_required_header_appears_exactly_once(config: Config) -> None:
    msg = parse_eml(render_issue(small_issue(), config).eml)
    for name in REQUIRED_HEADERS:
        assert len(msg.get_all(name) or []) == 1, name
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"] == (
        "<https://news.example.com/unsubscribe>, <mailto:unsubscribe@news.example.com>"
    )
    assert msg["List-Id"] == "<the-download.news.example.com>"
    assert re.fullmatch(r"<digest\.2026-11-22\.[0-9a-f]{16}@news\.example\.com>", msg["Message-ID"])


def test_a_subject_with_crlf_cannot_inject_a_header(config: Config) -> None:
    eml = render_issue(small_issue(), config).eml
    msg = parse_eml(eml)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "The Download: chips & grids Bcc: evil@example.com"
    assert not re.search(rb"^Bcc:", eml, re.M | re.I)


def test_a_non_ascii_subject_is_encoded(config: Config) -> None:
    issue = small_issue()
    eml = render_issue(Issue(**{**issue.__dict__, "subject": "Café robots — naïve"}), config).eml
    head = eml.split(b"\n\n", 1)[0]
    assert head.isascii()
    assert parse_eml(eml)["Subject"] == "Café robots — naïve"


def test_date_is_the_issue_date_at_send_time_in_the_newsletter_zone(config: Config) -> None:
    msg = parse_eml(render_issue(small_issue(), config).eml)
    assert msg["Date"] == "Sun, 22 Nov 2026 06:30:00 -0500"


def test_quoted_printable_lines_stay_within_76_characters(config: Config) -> None:
    eml = render_issue(big_issue(), config).eml
    body = eml.split(b"\n\n", 1)[1]
    assert max(len(line) for line in body.splitlines()) <= 76


def test_rendering_twice_gives_byte_identical_files(config: Config) -> None:
    first = render_issue(small_issue(), config)
    second = render_issue(small_issue(), config)
    assert first == second


def test_each_recipient_gets_their_own_to_and_message_id(config: Config) -> None:
    rendered = render_issue(small_issue(), config)
    one = build_message(small_issue(), rendered.html, rendered.text, config, "a@example.net")
    two = build_message(small_issue(), rendered.html, rendered.text, config, "b@example.net")
    assert one["To"] == "a@example.net"
    assert two["To"] == "b@example.net"
    assert one["Message-ID"] != two["Message-ID"]
    assert message_bytes(one) == message_bytes(
        build_message(small_issue(), rendered.html, rendered.text, config, "a@example.net")
    )


@pytest.mark.parametrize(
    "recipient",
    [
        "reader1@example.net",
        "Mixed.Case+tag@Example.NET",
        "o'brien@example.ie",
        "Ann Example <ann@example.net>",
        "=?utf-8?q?Zo=C3=AB?= <zoe@example.net>",
        "Zoë Ünïcode <zoe@example.net>",
        "x" * 70 + "@a-very-long-domain-name.example.com",
        "first.last@[192.0.2.1]",
    ],
)
def test_the_mailing_gives_each_reader_exactly_what_build_message_makes(
    config: Config, recipient: str
) -> None:
    rendered = render_issue(small_issue(), config)
    mailing = Mailing(small_issue(), rendered.html, rendered.text, config)
    whole = build_message(small_issue(), rendered.html, rendered.text, config, recipient)
    data, message_id = mailing.addressed(recipient)
    assert data == message_bytes(whole)
    assert message_id == whole["Message-ID"]


# --- JSON ---------------------------------------------------------------------


def test_json_carries_the_issue_as_data(config: Config) -> None:
    data = json.loads(render_issue(small_issue(), config).json)
    assert data["lead"] == "lead"
    assert data["must_reads"] == ["b1", "b2", "b3"]
    assert [s["theme"] for s in data["sections"]] == [
        {"key": "ai", "name": "Artificial intelligence"},
        {"key": "climate", "name": "Climate & energy"},
    ]
    no_url = data["sections"][1]["stories"][1]
    assert no_url["url"] is None and no_url["published"] is None
    assert data["report"]["dropped"] == [
        {"stage": "dedupe", "origin": "seeds/old.md", "message": "older than the window"}
    ]


# --- the independent linter ---------------------------------------------------


def test_email_lint_finds_no_failure_in_the_eml(
    config: Config, tmp_path: Path, email_lint: EmailLint
) -> None:
    eml = tmp_path / "digest.eml"
    eml.write_bytes(render_issue(small_issue(), config).eml)
    result = email_lint(eml)
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout


def test_email_lint_finds_no_failure_in_the_html_and_text(
    config: Config, tmp_path: Path, email_lint: EmailLint
) -> None:
    rendered = render_issue(small_issue(), config)
    (tmp_path / "digest.html").write_text(rendered.html, encoding="utf-8")
    (tmp_path / "digest.txt").write_text(rendered.text, encoding="utf-8")
    result = email_lint(tmp_path / "digest.html", "--text", tmp_path / "digest.txt")
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout


# --- golden files -------------------------------------------------------------


@pytest.mark.parametrize("name", ["digest.html", "digest.txt", "digest.json"])
def test_small_issue_matches_its_golden_file(config: Config, golden: Golden, name: str) -> None:
    rendered = render_issue(small_issue(), config)
    output = {
        "digest.html": rendered.html,
        "digest.txt": rendered.text,
        "digest.json": rendered.json,
    }
    golden(name, output[name])


# --- templates ----------------------------------------------------------------


def test_a_user_template_can_extend_the_default_and_replace_the_footer(
    config: Config, tmp_path: Path
) -> None:
    override = tmp_path / "templates" / "email"
    override.mkdir(parents=True)
    (override / "digest.mjml.j2").write_text(
        '{% extends "default:email/digest.mjml.j2" %}\n'
        "{% block footer %}{{ super() }}"
        "<mj-section><mj-column><mj-text>Sent with care by {{ newsletter.name }}</mj-text>"
        "</mj-column></mj-section>{% endblock %}\n",
        encoding="utf-8",
    )
    custom = Config(file=config.file, newsletter=config.newsletter, template_dir=override.parent)
    html = render_html(small_issue(), custom)
    assert "Sent with care by The Download" in html
    assert "A new chip doubles the speed of language models" in html
    assert "Unsubscribe" in html


def test_an_undefined_variable_in_a_template_raises(config: Config, tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.mjml.j2").write_text(
        "<mjml><mj-body>{{ no_such_thing }}</mj-body></mjml>", encoding="utf-8"
    )
    custom = Config(file=config.file, template_dir=tmp_path)
    with pytest.raises(jinja2.UndefinedError):
        render_html(small_issue(), custom)


def test_email_templates_autoescape_and_text_templates_do_not(config: Config) -> None:
    email_env = template_environment(config, "email")
    text_env = template_environment(config, "text")
    assert email_env.from_string("{{ x }}").render(x="a & <b>") == "a &amp; &lt;b&gt;"
    assert text_env.from_string("{{ x }}").render(x="a & b") == "a & b"


def test_an_update_links_the_issue_it_first_ran_in(config: Config) -> None:
    from dataclasses import replace

    from digest.models import PublishedStory

    earlier = PublishedStory(dt.date(2026, 11, 20), "old", "A chip", frozenset(), frozenset())
    issue = small_issue()
    assert issue.lead is not None
    updated = replace(issue.lead, update_of=earlier)
    sections = tuple(
        replace(s, stories=tuple(updated if st.id == updated.id else st for st in s.stories))
        for s in issue.sections
    )
    issue = replace(issue, lead=updated, sections=sections)
    link = "https://news.example.com/archive/2026-11-20/digest.html"
    assert f'href="{link}"' in render_html(issue, config)
    text = render_text(issue, config)
    assert "UPDATE (first in the November 20, 2026 issue [" in text
    assert link in text
