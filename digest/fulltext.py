"""The article behind a feed entry, for feeds that give a headline and little else.

Lab blogs and scraped feeds often carry a title alone, or a title and a teaser:
their stories would go out with no blurb, and give themes and merging little to
read. A source with `full_text = true` has the page of each new entry fetched
and its article taken out of the page by trafilatura (the extractor saved pages
go through too), sanitised as entry HTML is; the article then stands in for the
entry's own text when it says more.

Each page is asked for once: only entries not stored yet are new items, and only
those recent enough to make an issue (published within the build window, or
undated) are worth a request. A page that fails keeps its entry as the feed gave
it, and the feed's line in the collect report names the page and why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

import nh3

from digest.feeds import sanitise
from digest.fetch import Fetcher
from digest.itemstore import NewItem

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


def article_html(page: bytes, url: str) -> str | None:
    """The article of a fetched page as sanitised HTML (links resolved against the
    page's address), or None when the page holds none."""
    from digest.extract import article  # here: a collect without full text never loads trafilatura

    html = article(page, "html")
    return sanitise(html, url) if html else None


async def with_articles(
    fetcher: Fetcher,
    executor: Executor,
    items: Sequence[NewItem],
    since: dt.datetime,
) -> tuple[list[NewItem], str | None]:
    """The items, each recent one with its page's article in place of the entry's text
    when the article is longer; and what went wrong, in words, or None."""
    wanted = [i for i, item in enumerate(items) if _worth_a_request(item, since)]
    found = await asyncio.gather(*(_article(fetcher, executor, items[i]) for i in wanted))
    out = list(items)
    failures: list[str] = []
    for i, (article, error) in zip(wanted, found, strict=True):
        if error is not None:
            failures.append(f"{_page(items[i])}: {error}")
        elif article is not None and _text_length(article) > _text_length(items[i].raw.text):
            out[i] = dataclasses.replace(
                items[i], raw=dataclasses.replace(items[i].raw, text=article)
            )
    if not failures:
        return out, None
    shown = "; ".join(failures[:3]) + ("; …" if len(failures) > 3 else "")
    return out, f"full text: {len(failures)} of {len(wanted)} pages not read ({shown})"


async def _article(
    fetcher: Fetcher, executor: Executor, item: NewItem
) -> tuple[str | None, str | None]:
    """(article, None), or (None, why the page gave none)."""
    url = _page(item)
    fetched = await fetcher.fetch(url, accept=PAGE_ACCEPT)
    if fetched.status != "ok":
        return None, fetched.error or "no page"
    base = fetched.final_url or url
    loop = asyncio.get_running_loop()
    try:
        article = await loop.run_in_executor(executor, article_html, fetched.body, base)
    except BrokenProcessPool:  # a worker died (killed, out of memory): extract here instead
        article = article_html(fetched.body, base)
    return (article, None) if article else (None, "no article found in the page")


def _worth_a_request(item: NewItem, since: dt.datetime) -> bool:
    page = item.raw.meta_value("url")
    if not page or not page.startswith(("http://", "https://")):
        return False
    return item.published is None or item.published > since


def _page(item: NewItem) -> str:
    return item.raw.meta_value("url") or ""


def _text_length(html: str) -> int:
    """How much an entry or an article says: its characters of text, markup aside."""
    return len(" ".join(nh3.clean(html, tags=set()).split()))
