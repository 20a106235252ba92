"""The pure middle stages, one behaviour each: links, text, blurbs, merging, themes."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import zlib
from dataclasses import replace

from datasketch import MinHash, MinHashLSH

from digest.clean import clean
from digest.merge import LSH_THRESHOLD, NUM_PERM, _candidate_pairs, _signatures, merge
from digest.models import Block, Item, RawItem, SourceRef, Story, Theme
from digest.readers import split_front_matter
from digest.similarity import Features, Scorer
from digest.summarize import blurb
from digest.text import markdown_to_blocks, repair_text, sentences
from digest.themes import assign, assign_all
from digest.urls import canonical_url, clean_url, date_in_url, outlet_for


def item(
    title: str,
    text: str,
    url: str | None = None,
    kind: str = "article",
    item_id: str | None = None,
) -> Item:
    return Item(
        id=item_id or title[:12],
        origin="test",
        title=title,
        url=url,
        source=outlet_for(url) if url else None,
        published=None,
        blocks=tuple(Block("paragraph", p) for p in text.split("\n\n")),
        kind=kind,  # type: ignore[arg-type]
    )


def test_tracking_parameters_are_removed_and_other_parameters_kept() -> None:
    url = clean_url("http://Example.com/a?utm_source=x&id=7&mc_cid=1&mc_eid=2&fbclid=3&_ga=4")
    assert url == "https://example.com/a?id=7"


def test_only_web_links_survive() -> None:
    assert clean_url("javascript:alert(1)") is None
    assert clean_url("mailto:someone@example.com") is None
    assert clean_url("/relative/path") is None
    assert clean_url("/relative/path", base="https://example.com/feed") == (
        "https://example.com/relative/path"
    )


def test_links_to_the_same_page_share_a_canonical_form() -> None:
    assert canonical_url("https://www.example.com/story/") == canonical_url(
        "https://example.com/story"
    )
    assert canonical_url("http://WWW.Example.com/a/?utm_source=x&b=2#top") == (
        "https://example.com/a?b=2"
    )


def test_the_canonical_form_of_a_link_is_that_of_its_clean_form() -> None:
    links = [
        "https://www.example.com/a//?utm_medium=1&x=%20#:~:text=y",
        "http://EXAMPLE.com",
        "https://example.com/a;p?q=1&fbclid=2#f",
        "https://example.com/?",
        " https://example.com/a\\_b ",
        "https://u:p@www.Example.com:8443/x/",
        "https://x.us1.list-manage.com/track/click?u=1",
    ]
    for link in links:
        clean = clean_url(link)
        if clean is not None:
            assert canonical_url(link) == canonical_url(clean), link


def test_a_date_in_a_news_url_is_read() -> None:
    assert date_in_url("https://www.nytimes.com/2026/01/30/science/x.html") == dt.date(2026, 1, 30)
    assert date_in_url("https://www.bloomberg.com/news/articles/2026-02-01/x") == dt.date(
        2026, 2, 1
    )
    assert date_in_url("https://example.com/about") is None


def test_mojibake_is_repaired_without_straightening_quotes() -> None:
    assert repair_text("What‚Äôs next") == "What’s next"
    assert repair_text("Êù•Ê∫ê") == "来源"
    assert repair_text("“quoted” and ‘single’") == "“quoted” and ‘single’"


def test_sentences_respect_abbreviations_and_decimals() -> None:
    assert sentences("The U.S. grew 2.5% in 2025. Dr. Meng agrees. So do we.") == [
        "The U.S. grew 2.5% in 2025.",
        "Dr. Meng agrees.",
        "So do we.",
    ]


def test_html_tags_in_markdown_become_headings_and_bold_becomes_plain_words() -> None:
    blocks = markdown_to_blocks("<h2>Big news</h2>\nIt is <b>400Wh/kg</b> now.")
    assert [(b.kind, b.text) for b in blocks] == [
        ("heading", "Big news"),
        ("paragraph", "It is 400Wh/kg now."),
    ]


def test_a_blurb_is_at_most_three_sentences_and_about_sixty_words() -> None:
    text = " ".join(f"Sentence number {n} says something worth reading today." for n in range(10))
    result = blurb(item("T", text))
    assert len(sentences(result)) <= 3
    assert len(result.split()) <= 60


def test_a_blurb_never_cuts_a_word() -> None:
    long_sentence = "This sentence " + " ".join(["goes on"] * 60) + " and ends."
    result = blurb(item("T", long_sentence))
    assert result.endswith("…")
    assert all(word in long_sentence.split() for word in result.rstrip("…").split())


def test_a_blurb_leaves_out_a_sentence_the_feeds_excerpt_cut_short() -> None:
    text = (
        "Even Thailand's Prime Minister drives a BYD EV. As overseas sales continue to rise, BYD..."
    )
    assert blurb(item("T", text)) == "Even Thailand's Prime Minister drives a BYD EV."
    short = "Only this much of the story [...]"
    assert blurb(item("T", short)) == short  # nothing whole before the cut: shown as cut
    alone = "The IONIQ 5 had another record US sales month in March, helping push Hyundai to..."
    assert blurb(item("T", alone)) == "The IONIQ 5 had another record US sales month in March."


def test_a_blurb_skips_boilerplate() -> None:
    text = "Read the full story.\n\nSign up for our newsletter in your inbox.\n\nThe news is here."
    assert blurb(item("T", text)) == "The news is here."


def test_items_linking_the_same_page_become_one_story_listing_both_sources() -> None:
    url = "https://www.technologyreview.com/2026/02/02/1/ev-batteries/"
    article = item("EV batteries", "Long article text. " * 20, url=url, item_id="a")
    blurb_item = item("EV batteries blurb", "Short blurb.", url=url + "?utm_source=x", item_id="b")
    merged = merge([article, blurb_item])
    assert len(merged.stories) == 1
    (story,) = merged.stories
    assert story.title == "EV batteries"
    assert len(story.items) == 2
    assert merged.notes and "same page" in merged.notes[0].message


def test_two_different_stories_on_one_topic_stay_apart() -> None:
    a = item(
        "Solid-state batteries hit the road",
        "SAIC announced mass production of all-solid-state cells with 400Wh/kg energy "
        "density, promising a 1500 km range for its next cars and faster charging at "
        "highway stations across China by the end of the year, the company said on Thursday "
        "at its annual event.",
        item_id="a",
    )
    b = item(
        "Solid-state in 2026: the tipping point",
        "After years of promises, semi-solid packs ship in the MG4 while Factorial, "
        "Mercedes and BMW test all-solid prototypes; the battleground is now factory yield, "
        "supply chains for lithium sulfide, and the cost per kilowatt-hour of the cells "
        "compared with lithium-ion.",
        item_id="b",
    )
    assert len(merge([a, b]).stories) == 2


def test_headlines_that_state_different_figures_are_different_news() -> None:
    said = (
        "Acme (NASDAQ:ACME) insider Jo Bloggs sold {n} shares of the company's stock in a "
        "transaction on Friday. The shares were sold at an average price of $38.00."
    )

    def filing(n: int, title: str, shares: str) -> Item:
        return item(title, said.format(n=shares), f"https://site{n}.example/", item_id=str(n))

    one = filing(1, "Acme insider Jo Bloggs sells 1500 shares", "1,500")
    other = filing(2, "Acme insider Jo Bloggs sells 99342 shares", "99,342")
    again = filing(3, "Acme insider Jo Bloggs sells 1,500 shares", "1,500")
    stories = merge([one, other, again]).stories
    assert sorted([i.id for i in s.items] for s in stories) == [["1", "3"], ["2"]]


def test_one_outlets_posts_under_one_headline_are_a_series_not_one_story() -> None:
    column, title = "https://blog.example/", "Head of Editorial, Example Cloud"
    mesh = (
        "Quentin describes how microservices and service meshes make innovation at scale "
        "simple, why sidecars carry the traffic and what operators watch on their dashboards. "
        "Latency budgets, retries and circuit breakers each get a chapter with diagrams."
    )
    work = (
        "We examined the future of work in a recent report: hybrid offices, shorter weeks "
        "and what managers expect from hiring next year. Download and read the findings, "
        "including a survey of remote teams in Brazil, Germany and Japan."
    )
    posts = [
        item(title, mesh, column + "a", item_id="a"),
        item(title, work, column + "b", item_id="b"),
    ]
    assert len(merge(posts).stories) == 2

    told = "A rocket reached orbit on Tuesday carrying four satellites for weather forecasts."
    title = "Rocket carries weather satellites to orbit"
    wire = item(title, told, "https://wire.example/1", item_id="wire")
    paper = item(title, "Short.", "https://paper.example/9", item_id="paper")
    assert len(merge([wire, paper]).stories) == 1  # the same headline from two outlets


def _retellings(n: int) -> list[set[str]]:
    """n small documents, every third one a retelling of the one before it."""
    rng = random.Random(3)
    docs: list[set[str]] = []
    for k in range(n):
        if k % 3 == 2:
            words = sorted(docs[-1])
            docs.append(set(words[: len(words) * 3 // 4]) | {f"new{k}"})
        else:
            docs.append({f"w{rng.randrange(400)}" for _ in range(rng.randint(3, 40))})
    return docs


def test_merge_signatures_are_the_minhashes_datasketch_computes() -> None:
    docs = _retellings(30)
    scorer = Scorer(Features(title=frozenset(), words=frozenset(d)) for d in docs)
    ours = _signatures(scorer.words, scorer.vocabulary)
    for words, signature in zip(docs, ours, strict=True):
        theirs = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32, scheme="affine32")
        theirs.update_batch([w.encode() for w in words])
        assert signature.tolist() == theirs.hashvalues.tolist()


def test_merge_candidates_are_the_pairs_datasketch_lsh_proposes() -> None:
    docs = _retellings(60)
    scorer = Scorer(Features(title=frozenset(), words=frozenset(d)) for d in docs)
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    sketches = MinHash.bulk(
        [[w.encode() for w in d] for d in docs], num_perm=NUM_PERM, hashfunc=zlib.crc32
    )
    for i, sketch in enumerate(sketches):
        lsh.insert(i, sketch)
    expected = {(i, j) for i, s in enumerate(sketches) for j in lsh.query(s) if i < j}
    assert expected and _candidate_pairs(scorer) == sorted(expected)


def test_word_weights_are_the_same_whatever_the_hash_seed() -> None:
    """Words are numbered in sorted order, not set order, so float sums never reorder."""
    script = (
        "from digest.similarity import Scorer, features\n"
        "texts = ['Solid-state cells from SAIC reach 400Wh/kg', 'SAIC ships solid-state cells',"
        " 'Voice cloning fools a bank', 'A bank is fooled by a cloned voice']\n"
        "s = Scorer(features(t, t * 3) for t in texts)\n"
        "print(s.totals, [s.similarity(i, j) for i in range(4) for j in range(4)])\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1


THEMES = (
    Theme("deepfakes", "Deepfakes", terms=("deepfake", "synthetic media")),
    Theme("batteries", "Batteries", terms=("battery", "batteries", "EV")),
    Theme("ai", "AI", terms=("AI", "model", "chatbot")),
)
OTHER = Theme("other", "Everything else")


def story_of(title: str, text: str) -> Story:
    return merge([item(title, text)]).stories[0]


def test_a_deepfake_story_is_deepfakes_not_generic_ai() -> None:
    story = story_of(
        "Inside the marketplace powering bespoke AI deepfakes",
        "An AI marketplace sells AI model files for deepfake porn; the AI model makers say "
        "the AI chatbot is not to blame.",
    )
    assert assign(story, THEMES, OTHER).theme == "deepfakes"


def test_a_battery_story_that_mentions_ai_once_stays_batteries() -> None:
    story = story_of(
        "What's next for EV batteries",
        "Battery makers are scaling up. EV sales grew. Batteries got cheaper. AI helps a bit.",
    )
    assert assign(story, THEMES, OTHER).theme == "batteries"


def test_a_story_no_theme_claims_goes_to_the_catch_all_with_its_scores_explained() -> None:
    story = story_of("Fungus fights insects", "A certain species of fungus could help farmers.")
    themed = assign(story, THEMES, OTHER)
    assert themed.theme == "other"
    assert themed.theme_scores == ()


def test_a_tag_the_source_filed_the_story_under_counts_as_its_headline_does() -> None:
    spaced = (*THEMES, Theme("space", "Space", terms=("rocket",)))
    story = merge([replace(item("Up it goes", "A quiet launch day."), tags=("Space",))]).stories[0]
    themed = assign(story, spaced, OTHER)
    assert themed.theme == "space"  # the theme's own name, as the feed's section says it
    assert themed.theme_scores[0].terms == ("tag: Space",)


def test_a_word_counts_once_for_a_theme_however_many_of_its_terms_match_it() -> None:
    once = (Theme("policy", "Policy", terms=("military",)),)
    twice = (Theme("policy", "Policy", terms=("military", "militar*", "MILITARY")),)
    story = story_of("The military budget", "Nothing else here.")
    (scored_once,) = assign(story, once, OTHER).theme_scores
    (scored_twice,) = assign(story, twice, OTHER).theme_scores
    assert scored_once.score == scored_twice.score == 3.0  # one headline word


def test_a_term_written_with_a_capital_is_a_name_and_matches_only_capitalised_words() -> None:
    named = (Theme("devices", "Devices", terms=("Surface", "Handy*")),)
    everyday = story_of("On the surface of the lake", "A handy guide to the surface.")
    assert assign(everyday, named, OTHER).theme == "other"
    device = story_of("Microsoft's new Surface", "Das Handy und das Surface im Test.")
    themed = assign(device, named, OTHER)
    assert themed.theme == "devices"
    assert themed.theme_scores[0].terms == ("Handy*", "Surface")


def test_tags_match_terms_whatever_their_case() -> None:
    named = (Theme("space", "Space", terms=("NASA", "Mars")),)
    story = merge([replace(item("Up it goes", "A launch."), tags=("nasa", "mars"))]).stories[0]
    assert assign(story, named, OTHER).theme_scores[0].terms == ("tag: Mars", "tag: NASA")


def test_tags_in_front_matter_are_read_as_a_list_or_a_line() -> None:
    listed = RawItem(
        "a.md", "Notes", "---\ntitle: T\ntags: [AI, chips, ai]\n---\nText.", "markdown"
    )
    lined = RawItem("b.md", "Notes", "---\ntitle: T\nkeywords: AI; chips\n---\nText.", "markdown")
    for raw in (listed, lined):
        meta, body, _ = split_front_matter(raw.text)
        (cleaned,) = clean(replace(raw, text=body, meta=meta)).items
        assert cleaned.tags == ("AI", "chips")


LAB = "https://ailab.example/news/"
WITH_BIOTECH = (
    Theme("deepfakes", "Deepfakes", terms=("deepfake",), within="ai"),
    Theme("biotech", "Biotech", terms=("drug", "protein")),
    Theme("ai", "AI", terms=("AI", "model", "chatbot")),
)


def lab_day(*extra: Item) -> list[Story]:
    """Three stories from one AI lab that its terms place firmly under AI, plus `extra`."""
    firm = [
        item(f"A new AI model, number {n}", "The AI model and the AI chatbot.", f"{LAB}{n}")
        for n in range(3)
    ]
    stories = [merge([i]).stories[0] for i in (*firm, *extra)]
    return assign_all(stories, WITH_BIOTECH, OTHER)


def test_a_close_call_goes_the_way_its_outlet_mostly_goes() -> None:
    *_, story = lab_day(item("Drug discovery with an AI model", "Protein work.", f"{LAB}drug"))
    assert story.theme == "ai"
    why = story.theme_scores[0]
    assert (why.theme, why.method, why.terms) == ("ai", "source", ("ailab.example",))


def test_a_story_no_term_claims_joins_the_theme_its_outlet_mostly_covers() -> None:
    *_, story = lab_day(item("Inviting hard questions", "We answer them.", f"{LAB}questions"))
    assert story.theme == "ai"
    assert story.theme_scores[0].method == "source"


def test_a_narrower_theme_keeps_its_story_though_the_outlet_covers_the_broad_one() -> None:
    *_, story = lab_day(item("A deepfake of a senator", "An AI deepfake spread.", f"{LAB}fake"))
    assert story.theme == "deepfakes"


def test_an_outlet_without_a_clear_leaning_decides_nothing() -> None:
    mixed = [item(f"Drug trial {n}", "The drug and the protein.", f"{LAB}bio{n}") for n in range(3)]
    *_, story = lab_day(*mixed, item("Inviting hard questions", "We answer.", f"{LAB}q"))
    assert story.theme == "other"


def test_an_outlet_that_posts_once_a_day_leans_by_its_recent_issues() -> None:
    import datetime as dt

    from digest.models import PublishedStory
    from digest.repeats import published_record

    *firm, _ = lab_day(item("x", "x", f"{LAB}x"))
    earlier = [published_record(s, dt.date(2026, 11, 20 + n)) for n, s in enumerate(firm)]
    assert [p.theme for p in earlier] == ["ai", "ai", "ai"]
    post = merge([item("Inviting hard questions", "We answer them.", f"{LAB}q")]).stories
    (alone,) = assign_all(list(post), WITH_BIOTECH, OTHER)
    assert alone.theme == "other"  # one story a day: today's batch shows no leaning
    (placed,) = assign_all(list(post), WITH_BIOTECH, OTHER, past=earlier)
    assert placed.theme == "ai"
    why = placed.theme_scores[0]
    assert (why.theme, why.method, why.terms) == ("ai", "source", ("ailab.example",))
    unsure = [
        PublishedStory(p.issue_date, p.story_id, p.title, p.words, p.outlets) for p in earlier
    ]
    (story,) = assign_all(list(post), WITH_BIOTECH, OTHER, past=unsure)
    assert story.theme == "other"  # stories kept without a firm theme show no leaning


def test_only_a_theme_the_terms_gave_firmly_is_kept_for_the_outlets_leaning() -> None:
    from digest.themes import firm_theme

    *firm, by_leaning = lab_day(item("Inviting hard questions", "We answer.", f"{LAB}q"))
    assert [firm_theme(s) for s in firm] == ["ai", "ai", "ai"]
    assert by_leaning.theme == "ai" and firm_theme(by_leaning) == ""  # never feeds on itself
    (weak,) = assign_all(
        list(merge([item("A model of it", "Notes.", "https://n.example/")]).stories),
        WITH_BIOTECH,
        OTHER,
    )
    assert firm_theme(weak) == ""


def test_a_weak_call_from_an_outlet_that_mostly_fits_no_theme_stays_in_the_catch_all() -> None:
    blog = "https://swiftblog.example/"
    posts = [
        item(f"Type erasure, part {n}", "Generics and protocols in depth.", f"{blog}{n}")
        for n in range(3)
    ]
    weak = item("Faster builds for a model of your app", "Build settings, explained.", blog + "b")
    *_, story = assign_all([merge([i]).stories[0] for i in (*posts, weak)], WITH_BIOTECH, OTHER)
    assert story.theme == "other"
    why = story.theme_scores[0]
    assert (why.theme, why.method, why.terms) == ("other", "source", ("swiftblog.example",))

    elsewhere = replace(weak, url="https://news.example/b", source="news.example")
    *_, alone = assign_all(
        [merge([i]).stories[0] for i in (*posts, elsewhere)], WITH_BIOTECH, OTHER
    )
    assert alone.theme == "ai"  # the same words from an outlet with no such leaning
    firm = item("A new AI model and an AI chatbot", "The AI model, the AI chatbot.", blog + "c")
    *_, confident = assign_all([merge([i]).stories[0] for i in (*posts, firm)], WITH_BIOTECH, OTHER)
    assert confident.theme == "ai"  # placed firmly: the outlet's habits don't overrule it


def profiled_day(*extra: Item) -> list[Story]:
    """Three drug stories the terms place firmly under biotech and three that no term
    claims at all, each from its own outlet (so no outlet leans), plus `extra`."""
    firm = [
        item(
            f"Drug trial {n}",
            "The drug, the protein and the kinase assay.",
            f"https://b{n}.example/",
        )
        for n in range(3)
    ]
    loose = [
        item(
            f"Office chairs, part {n}",
            "People use good software at work.",
            f"https://o{n}.example/",
        )
        for n in range(3)
    ]
    stories = [merge([i]).stories[0] for i in (*firm, *loose, *extra)]
    return assign_all(stories, WITH_BIOTECH, OTHER)


def test_a_story_no_term_claims_joins_the_theme_whose_stories_it_reads_like() -> None:
    *_, story = profiled_day(item("Kinase assay results", "A kinase assay.", "https://n.example/"))
    assert story.theme == "biotech"
    why = story.theme_scores[0]
    assert (why.method, why.terms) == ("learned profile", ("assay", "kinase"))


def test_everyday_words_place_no_story_under_a_theme() -> None:
    """The day's unthemed stories have a profile too: a story that reads more like them
    than like any theme stays unthemed, though it shares a word with a theme's stories."""
    everyday = item("Kinase software", "People use good software.", "https://g.example/")
    *_, story = profiled_day(everyday)
    assert story.theme == "other"


def test_a_blurb_skips_bylines_captions_and_sentences_that_need_a_picture() -> None:
    text = (
        "By Casey Crownhart\n\n"
        "Photo: Getty Images\n\n"
        "The prototype, pictured above, is small.\n\n"
        "CATL began producing sodium-ion cells this year. It plans a car by mid-year."
    )
    assert blurb(item("T", text)) == (
        "CATL began producing sodium-ion cells this year. It plans a car by mid-year."
    )


def test_recurring_unthemed_topics_are_suggested_as_new_themes() -> None:
    from digest.themes import suggest_themes

    unthemed = [
        story_of("Fungus could be the insecticide of the future", "Farmers test a fungus."),
        story_of("How fungi talk to each other", "The fungus network helps farmers."),
        story_of("A robot makes latte", "Coffee from a machine."),
    ]
    (suggestion,) = suggest_themes(unthemed, THEMES)
    assert "terms farmers, fungus:" in suggestion.message
    assert "2 unthemed stories" in suggestion.message


def test_one_word_in_common_is_a_coincidence_not_a_suggested_theme() -> None:
    from digest.themes import suggest_themes

    unthemed = [
        story_of("CDC director resigns", "Conflicts of interest ended her tenure."),
        story_of("The best director of all time", "A ranking of Oscar winners."),
    ]
    assert suggest_themes(unthemed, THEMES) == ()


def test_an_outlets_name_is_never_a_suggested_theme() -> None:
    from digest.themes import suggest_themes

    told = [
        ("Death of a gig worker, as the world watched", "Labour rules failed him in India."),
        ("The world's wildest musical instruments", "A contest for inventors in India."),
    ]
    site = SourceRef("Rest of World", "https://restofworld.example/")
    unthemed = [replace(story_of(title, text), sources=(site,)) for title, text in told]
    assert suggest_themes(unthemed, THEMES) == ()  # "world" is the outlet's word
    elsewhere = [replace(s, sources=(SourceRef("Wire"),)) for s in unthemed]
    assert "world" in suggest_themes(elsewhere, THEMES)[0].message


def test_a_roundup_joins_the_story_its_first_headline_tells_and_no_other() -> None:
    launch = item(
        "Introducing Claude Opus 4.6", "Anthropic releases a new model today.", item_id="a"
    )
    other = item("xAI joins SpaceX in a merger", "Musk merges his companies.", item_id="b")
    roundup = item(
        "Claude Opus 4.6 Thinks Smarter, xAI Joins SpaceX, AI Outperforms Doctors",
        "This week's letter covers four stories.",
        item_id="c",
    )
    stories = merge([launch, other, roundup]).stories
    grouped = sorted(sorted(i.id for i in s.items) for s in stories)
    assert grouped == [["a", "c"], ["b"]]


def test_a_weekly_roundup_joins_a_story_told_two_weeks_before() -> None:
    import datetime as dt

    day = dt.datetime(2025, 11, 24, tzinfo=dt.UTC)
    launch = replace(
        item("Introducing Claude Opus 4.5", "A new model.", item_id="a"), published=day
    )
    later = dt.timedelta(days=16)
    roundup = replace(
        item(
            "Claude Opus 4.5 Saves Tokens, White House Boosts Science, Amazon Nova Checks In",
            "This week's letter.",
            item_id="b",
        ),
        published=day + later,
    )
    assert len(merge([launch, roundup]).stories) == 1


def test_a_roundup_whose_first_headline_no_one_tells_joins_a_later_headlines_story() -> None:
    deal = item("Microsoft, NVIDIA, and Anthropic announce partnerships", "A deal.", item_id="a")
    roundup = item(
        "Google Rules Arena Leaderboards, Microsoft+Anthropic Partnerships, Record Labels "
        "Back AI Music, Personality Control for LLMs",
        "This week's letter is about something else.",
        item_id="b",
    )
    (story,) = merge([deal, roundup]).stories
    assert story.matches[1].reason.startswith("roundup with a headline that tells it")


def test_a_headline_that_lists_things_is_not_a_roundup() -> None:
    listing = item(
        "Google Docs, Sheets, and Slides updates add support for iPhone X, iOS 11 drag-and-drop",
        "Google updated its apps.",
        item_id="a",
    )
    deal = item("Get 120 hours of iOS 11 dev training for $15", "A deal.", item_id="b")
    assert len(merge([listing, deal]).stories) == 2


def test_a_model_name_in_a_roundup_headline_is_evidence_enough() -> None:
    launch = item("GPT-4", "OpenAI releases its new model.", item_id="a")
    roundup = item(
        "GPT-4 Has Landed, AI Infers Talent, LLaMA Escapes into the Wild, "
        "Vision and Language Tightly Bound",
        "This week's letter is about something else.",
        item_id="b",
    )
    one_word = item("Landed", "A plane landed.", item_id="c")
    grouped = sorted(
        sorted(i.id for i in s.items) for s in merge([launch, roundup, one_word]).stories
    )
    assert grouped == [["a", "b"], ["c"]]


def test_a_model_name_counts_as_two_words_of_a_roundup_headline() -> None:
    launch = item("OpenAI hits back at DeepSeek with o3-mini reasoning model", "A.", item_id="a")
    roundup = item(
        "o3-mini Puts Reasoning in High Gear, How to Train for Computer Use, "
        "Gemini 2.0 Thinks Faster",
        "This week's letter is about something else.",
        item_id="b",
    )
    assert len(merge([launch, roundup]).stories) == 1  # o3-mini and reasoning: 3 of 5


def test_a_roundup_headline_sharing_half_its_words_joins_only_through_a_code_name() -> None:
    card = item("OpenAI o1 System Card", "Safety work for the o1 model.", item_id="a")
    prices = item("Honda cuts Prologue EV prices", "Honda lowers prices.", item_id="b")
    roundup = item(
        "OpenAI o1 Pro's High Price, Grok Cuts Video Prices, Amazon Nova Checks In",
        "This week's letter is about something else.",
        item_id="c",
    )
    grouped = sorted(sorted(i.id for i in s.items) for s in merge([card, prices, roundup]).stories)
    assert grouped == [["a", "c"], ["b"]]  # openai and o1: 2 of 4; cuts and prices: no name


def test_a_sponsors_post_in_a_feed_is_dropped_and_reported() -> None:
    def entry(title: str, html: str) -> RawItem:
        meta = (
            ("feed", "https://blog.example/feed.json"),
            ("title", title),
            ("url", "https://blog.example/p"),
        )
        return RawItem("https://blog.example/p", "Blog", html, "html", meta)

    paid = entry("[Sponsor] Timing — Time Tracking for Mac", "<p>Time is precious.</p>")
    thanks = entry(
        "Squarespace Domains", "<p>My thanks to Squarespace for sponsoring the feed.</p>"
    )
    news = entry("Sponsorship deals dry up for esports teams", "<p>Brands pulled out.</p>")
    for raw in (paid, thanks):
        cleaned = clean(raw)
        assert cleaned.items == ()
        assert "a sponsor's post, not news" in cleaned.dropped[0].message
    assert len(clean(news).items) == 1


def test_an_outlets_name_is_read_from_its_feeds_title() -> None:
    from digest.feeds import outlet_name

    assert outlet_name("Electrek - Article Feed") == "Electrek"
    assert outlet_name("Ars Technica - All content") == "Ars Technica"
    assert outlet_name("Engadget RSS Feed") == "Engadget"
    assert outlet_name("Business and financial news - CNNMoney.com") == "CNNMoney.com"
    assert outlet_name("The Batch | DeepLearning.AI") == "The Batch | DeepLearning.AI"


def test_a_feed_entrys_headline_loses_the_outlets_name() -> None:
    meta = (
        ("feed", "https://techcrunch.example/feed"),
        ("source", "TechCrunch"),
        ("title", "Epic Games cuts 1,000 jobs | TechCrunch"),
        ("url", "https://techcrunch.example/epic"),
    )
    raw = RawItem("https://techcrunch.example/epic", "TC", "<p>Layoffs.</p>", "html", meta)
    assert clean(raw).items[0].title == "Epic Games cuts 1,000 jobs"


def test_the_lead_has_text_of_its_own_and_equal_stories_come_newest_first() -> None:
    from pathlib import Path

    from digest.assemble import assemble
    from digest.config import parse_config
    from digest.models import BuildReport

    config = parse_config({}, Path("digest.toml"))
    day = dt.date(2026, 11, 22)

    def told(title: str, kind: str, days_ago: int) -> Story:
        story = story_of(title, "Words of its own.")
        published = day - dt.timedelta(days=days_ago)
        return replace(story, kind=kind, published=published, theme=config.catch_all.key)  # type: ignore[arg-type]

    headline_only = told("A headline and a link", "brief", 0)
    older, newer = told("B older article", "article", 2), told("C newer article", "article", 1)
    issue = assemble(config, day, [older, headline_only, newer], [], BuildReport())
    (section,) = issue.sections
    assert [s.title for s in section.stories] == [
        "A headline and a link",
        "C newer article",
        "B older article",
    ]
    assert issue.lead is not None and issue.lead.title == "C newer article"


def _one_days_news(n: int = 40) -> list[Item]:
    """Unrelated stories of one day, among which the names of one event are rare."""
    return [
        item(
            f"Story {k}: topic{k} in the news",
            f"Facts{k} and details{k} of story {k}.",
            item_id=f"f{k}",
        )
        for k in range(n)
    ]


def _layoffs(days_apart: int = 0) -> list[Item]:
    day = dt.date(2026, 3, 2)
    first = item(
        "Acme Robotics cuts 300 jobs at its Lisbon plant",
        "Acme Robotics will lay off 300 workers at its Lisbon factory, the company said, "
        "blaming weaker orders from carmakers.",
        item_id="a",
    )
    second = item(
        "Lisbon layoffs: Acme Robotics blames weak demand",
        "The robot maker is shedding staff at the factory after a slump in demand from the "
        "car industry; unions called the move a betrayal.",
        item_id="b",
    )
    return [
        replace(first, published=day),
        replace(second, published=day + dt.timedelta(days=days_apart)),
    ]


def test_headlines_naming_the_same_rare_names_within_days_tell_one_story() -> None:
    merged = merge([*_one_days_news(), *_layoffs(days_apart=1)])
    (told,) = [s for s in merged.stories if len(s.items) > 1]
    assert sorted(i.id for i in told.items) == ["a", "b"]
    (how,) = [m.reason for m in told.matches if m.item_id != told.items[0].id]
    assert "the same rare words in both headlines (acme, lisbon, robotics)" in how


def test_in_a_day_of_a_dozen_items_two_sharing_names_is_not_rare() -> None:
    stories = merge([*_one_days_news(10), *_layoffs(days_apart=1)]).stories
    assert all(len(s.items) == 1 for s in stories)  # 2 of 12 is not one in twenty


def test_the_same_names_weeks_apart_are_different_news() -> None:
    stories = merge([*_one_days_news(), *_layoffs(days_apart=9)]).stories
    assert all(len(s.items) == 1 for s in stories)


def test_rare_words_that_name_nothing_do_not_make_two_deals_one_story() -> None:
    deals = [
        item(
            "A consultancy brings chatbots to regulated industries",
            "The consultancy will offer chatbots to banks and insurers, it said on Monday.",
            item_id="a",
        ),
        item(
            "An integrator puts assistants into regulated industries",
            "The integrator will build assistants for airlines and banks, it said on Monday.",
            item_id="b",
        ),
    ]
    stories = merge([*_one_days_news(), *deals]).stories
    assert all(len(s.items) == 1 for s in stories)


def test_hacker_news_links_and_counts_are_not_the_story() -> None:
    meta = (
        ("feed", "https://hnrss.org/newest"),
        ("title", "Stop Using Toilet Paper"),
        ("url", "https://www.nytimes.com/2020/04/03/opinion/toilet-paper.html"),
    )
    html = (
        '<p>Article URL: <a href="https://www.nytimes.com/2020/04/03/opinion/toilet-paper.html">'
        "https://www.nytimes.com/2020/04/03/opinion/toilet-paper.html</a></p>"
        '<p>Comments URL: <a href="https://news.ycombinator.com/item?id=22907528">'
        "https://news.ycombinator.com/item?id=22907528</a></p><p>Points: 1</p><p># Comments: 0</p>"
    )
    raw = RawItem("https://hnrss.org/newest", "HN", html, "html", meta)
    (brief,) = clean(raw).items
    assert brief.kind == "brief"
    assert brief.blocks == ()


def test_a_prefix_term_does_not_match_words_it_was_never_meant_for() -> None:
    from pathlib import Path

    from digest.config import load_config

    shipped = load_config(Path(__file__).resolve().parents[1] / "digest.toml")
    giveaway = story_of(
        "Win a network drive, courtesy of Synology",
        "A giveaway: the device comes courtesy of its maker, with the hardware to match.",
    )
    assert assign(giveaway, shipped.themes, shipped.catch_all).theme == "connectivity"


def test_a_story_about_a_head_of_state_is_power_and_policy() -> None:
    from pathlib import Path

    from digest.config import load_config

    shipped = load_config(Path(__file__).resolve().parents[1] / "digest.toml")
    talks = story_of(
        "Enfermeira de Chávez alega perseguição",
        "A antiga enfermeira de Chávez fala de perseguição.",
    )
    assert assign(talks, shipped.themes, shipped.catch_all).theme == "policy"


def feed_entry(html: str, title: str = "A headline") -> RawItem:
    meta = (
        ("feed", "https://news.example/feed"),
        ("title", title),
        ("url", "https://news.example/a"),
    )
    return RawItem("https://news.example/a", "News", html, "html", meta)


def test_a_picture_and_its_caption_are_not_the_story() -> None:
    html = (
        '<figure><img alt="Image of a large lawn, with a domed building." src="l.jpg">'
        '<p class="caption"><a href="l.jpg">Enlarge</a> / The library. (credit: Kickstand)</p>'
        "</figure><p>We have been following the saga since 2020. It took another turn.</p>"
    )
    (story,) = clean(feed_entry(html)).items
    assert blurb(story) == "We have been following the saga since 2020. It took another turn."
    credit = "<p>A worker's home in Balad, India. Photographer : Sameer Raichur for the outlet</p>"
    (caption_only,) = clean(feed_entry(credit)).items
    assert caption_only.kind == "brief"


def test_a_wordpress_footer_in_either_word_order_is_boilerplate() -> None:
    text = (
        "El litio vuelve a subir.\n\n"
        "The post El litio en 2026 first appeared on MIT Technology Review en español."
    )
    assert blurb(item("T", text)) == "El litio vuelve a subir."


def test_an_arxiv_abstract_loses_the_papers_id_and_its_title() -> None:
    html = (
        "<p>SCANet: Correcting LEGO Assembly Errors arXiv:2403.18195v1 Announce Type: cross "
        "Abstract: Autonomous assembly in robotics is hard. We correct its errors.</p>"
    )
    (paper,) = clean(feed_entry(html, title="SCANet")).items
    assert blurb(paper) == "Autonomous assembly in robotics is hard. We correct its errors."


def test_a_line_of_its_own_without_a_full_stop_is_a_standfirst_not_the_blurb() -> None:
    text = (
        "Campaign group warns the UK is still protecting its territories\n\n"
        "The United Nations has been urged to end offshore tax evasion."
    )
    assert (
        blurb(item("T", text)) == "The United Nations has been urged to end offshore tax evasion."
    )
    podcast = "We rate the season's games. Plus: consoles, Rockstar and more"
    assert blurb(item("T", podcast)) == podcast  # prose that only lost its last full stop
    assert blurb(item("T", "Advancing cost-efficient reasoning")) == (
        "Advancing cost-efficient reasoning"  # all there is
    )


def test_a_cut_excerpt_is_not_trimmed_to_half_a_sentence() -> None:
    lead_in = "When Musk was in Davos two weeks ago, an interviewer asked him whether ageing..."
    assert blurb(item("T", lead_in)) == lead_in
    bracket = "The Department of Homeland Security of the United States (DHS, as it is known)..."
    assert blurb(item("T", bracket)) == bracket


def test_a_newsletters_forwarding_note_and_copyright_line_are_boilerplate() -> None:
    text = (
        "If you were forwarded this newsletter, and you'd like to receive it, subscribe here.\n\n"
        "Software earnings slowed this quarter. Copyright © 2023 Example, All rights reserved."
    )
    assert blurb(item("T", text)) == "Software earnings slowed this quarter."
    news = "Copyright lawsuits against AI companies piled up this year, court records show."
    assert blurb(item("T", news)) == news


def test_two_stories_on_one_companys_product_the_same_day_stay_apart() -> None:
    review = item(
        "Apple's iPhone 17 review: a better camera, the same battery",
        "The iPhone 17 has a new camera system and a faster chip, but battery life is "
        "unchanged from last year's model.",
        item_id="a",
    )
    sales = item(
        "Apple iPhone sales slump in China as Huawei gains",
        "Apple's iPhone shipments in China fell 20 percent in the quarter, as Huawei's new "
        "phones won buyers, analysts said.",
        item_id="b",
    )
    stories = merge([*_one_days_news(), review, sales]).stories
    assert all(len(s.items) == 1 for s in stories)  # the same names, but not one event
