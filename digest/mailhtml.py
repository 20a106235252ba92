"""An e-mail's HTML as markdown lines: headings, emphasis, links and line breaks kept.

trafilatura reads a web page well, but an e-mail is built of layout tables, and
it keeps only the longest passages: the headings, the numbered must-reads and
every link are lost. The edition splitter needs exactly those, in the form it
already reads from saved markdown editions: a heading as a **bold** line, a
`<br>` as a new line, a link as [text](url). Images, styles and hidden text
(the inbox preview line) are not content and are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    "p div table tbody thead tfoot tr td th ul ol li blockquote hr center section article "
    "header footer main aside figure figcaption dl dt dd pre address".split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "_", "i": "_"}
_SKIP_TAGS = frozenset({"head", "title", "style", "script", "noscript", "template", "svg"})
_VOID_TAGS = frozenset({"img", "br", "hr", "meta", "link", "input", "area", "col", "wbr"})
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|max-height\s*:\s*0", re.I)
_ESCAPE = re.compile(r"([\\`*_\[\]<])")
_BOLD_RUNS = re.compile(r"\*\*(\s*)\*\*")


@dataclass
class _Frame:
    """An open element whose words are wrapped in markup when it closes."""

    tag: str
    href: str | None = None
    parts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Mail:
    markdown: str
    title: str | None  # the document's <title>, which mailers set to the subject


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.frames = [_Frame("root")]
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_title = self.in_title or tag == "title"
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth += 1
            return
        values = dict(attrs)
        if tag in _SKIP_TAGS or _HIDDEN.search(values.get("style") or ""):
            if tag not in _VOID_TAGS:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "br":
            self.emit("\n")
        elif tag in _BLOCK_TAGS:
            self.emit("\n\n")
            if tag == "li":
                self.emit("- ")
        elif tag in _HEADINGS:
            self.emit("\n\n")
            self.frames.append(_Frame(tag))
        elif tag in _INLINE_MARKS or (tag == "a" and not self.inside("a")):
            self.frames.append(_Frame(tag, href=values.get("href")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.in_title = self.in_title and tag != "title"
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag in _BLOCK_TAGS:
            self.emit("\n\n")
        elif self.inside(tag):
            while self.frames[-1].tag != tag:
                self.close_frame()
            self.close_frame()
            if tag in _HEADINGS:
                self.emit("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skip_tag is None:
            self.emit(_ESCAPE.sub(r"\\\1", re.sub(r"\s+", " ", data.replace("\u00a0", " "))))

    def emit(self, text: str) -> None:
        self.frames[-1].parts.append(text)

    def inside(self, tag: str) -> bool:
        return any(frame.tag == tag for frame in self.frames[1:])

    def close_frame(self) -> None:
        frame = self.frames.pop()
        inner = "".join(frame.parts)
        if frame.tag in _HEADINGS:
            self.emit(_wrap_lines(inner, "**"))
        elif frame.tag == "a":
            self.emit(_link(inner, frame.href))
        elif any(f.tag in _HEADINGS for f in self.frames) and _INLINE_MARKS[frame.tag] == "**":
            self.emit(inner)  # a heading is bold already
        else:
            self.emit(_wrap_lines(inner, _INLINE_MARKS[frame.tag]))

    def markdown(self) -> str:
        while len(self.frames) > 1:
            self.close_frame()
        return "".join(self.frames[0].parts)


_EDGES = re.compile(r"^(?P<lead>[\s)]*(?:\+\s+)?)(?P<words>.*?)(?P<trail>[\s(]*)$", re.S)


def _wrap_lines(inner: str, mark: str) -> str:
    """Emphasis cannot span lines in markdown, and its marks must touch the words.

    A bracket at the edge of an emphasised run belongs to its neighbour: in
    "_Why it matters. (_[NBC](…))" the "(" opens the credit, not the words; so
    does a leading "+", which marks a related link ("_+ See also_").
    """
    out = []
    for line in inner.split("\n"):
        edges = _EDGES.match(line)
        assert edges is not None
        if edges["words"]:
            out.append(f"{edges['lead']}{mark}{edges['words']}{mark}{edges['trail']}")
        else:
            out.append(line)
    return "\n".join(out)


def _link(inner: str, href: str | None) -> str:
    """Words that link to a web address; an image-only link has no words and is dropped."""
    if not inner.strip():
        return inner if "\n" in inner else ""
    if not href or not re.match(r"https?://", href.strip(), re.I):
        return inner
    target = re.sub(r"[\s()<>]", lambda m: f"%{ord(m[0]):02X}", href.strip())
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}[{inner.strip()}]({target}){trail}"


def to_markdown(html: str) -> Mail:
    """The e-mail's words as markdown, one blank line between blocks, and its title."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    title = " ".join("".join(converter.title).split())
    # Two bold runs side by side ("**8 Smart bandages…** **🩹**") are one heading.
    lines = [_BOLD_RUNS.sub(r"\1", line).strip() for line in converter.markdown().split("\n")]
    text = "\n".join(lines)
    return Mail(re.sub(r"\n{3,}", "\n\n", text).strip() + "\n", title or None)
