"""How good and how fast is the grouping? Theme labels and duplicate groups, measured.

    python bench/eval_grouping.py                 # quality on dev, test and all + scale runs
    python bench/eval_grouping.py --no-scale      # quality only
    python bench/eval_grouping.py --split test2   # one split only: dev, test, test2 or all
    python bench/eval_grouping.py --sizes 1000 10000 50000
    python bench/eval_grouping.py --pairs         # every missed and extra pair, with headlines
    python bench/eval_grouping.py --daily         # also replayed as daily builds

Quality: bench/labels/grouping.csv holds hand-checked labels (theme and duplicate
group) for real items of ../shared/corpus: feed entries of corpus/feeds, keyed by
file and entry link, and the stories of local files (saved newsletter e-mails),
keyed by file and the story's own link. The items themselves are read from the
corpus at run time, through the same feed parser or file reader and cleaner a
build uses, then grouped by the same merge and theme stages with the shipped
digest.toml's taxonomy (quotes of the day are set aside, as a build sets them
aside). Printed: theme macro-F1 with a per-theme table and a confusion table, and
duplicate-pair precision/recall/F1, side by side with a baseline (merge by page
and headline only; themes by the first keyword hit in config order), so every
figure shows what the real stages add. A summary table of every split closes the run.

Splits: each row is `dev`, `test`, `test2` or `test3`, split by file, except that
test2 and test3 also take entries of dev's Anthropic, OpenAI and Batch feeds. Dev
items were in view while the shipped taxonomy was tuned. Test items (whole feeds
nobody tuned against) were held out, but their aggregate figures were read many
times while the system was tuned, so they are no longer quite fresh; test2 (a later
round of newsletter editions, blogs and Anthropic posts, labelled before any
prediction for them was run) has had its aggregate figures and two of its false
merges read since (see NOTES.md); test3 (the 2025 entries of the Anthropic, OpenAI
and Batch feeds not labelled before, labelled the same way) is the freshest. Each
split is grouped on its own, as its own corpus, and `all` groups everything
together, so a duplicate group spanning two splits counts only under `all`.
bench/labels/NOTES.md says how the labels were made.

Daily (--daily): each split replayed as daily builds would see it, one publication
day at a time (undated items as one day of their own), with the unlabelled entries
of the same files beside the labelled ones (unscored: a reader of those feeds gets
them all), each day's items merged,
checked against the earlier issues and themed, with and without the stories of the
30 days before as the issue history that outlets' leanings learn from. Printed:
theme figures, and across days, how many later tellings of a labelled group (up to
two weeks after an earlier item of it) the history left out or marked as an update,
and how many stories it left out that retell nothing earlier (news lost).

Scale: synthetic items (1,000 and 10,000 by default) grouped by merge + themes,
with wall and CPU time and peak memory (RSS) for each size, each in a fresh process.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.clean import clean  # noqa: E402
from digest.collect import new_item  # noqa: E402
from digest.config import Config, Source, load_config  # noqa: E402
from digest.feeds import parse_feed  # noqa: E402
from digest.merge import merge, story_keys  # noqa: E402
from digest.models import Block, Item, Story  # noqa: E402
from digest.readers import read_local  # noqa: E402
from digest.repeats import LOOKBACK_DAYS, drop_repeats, published_record  # noqa: E402
from digest.store import Database, SQLiteHistory  # noqa: E402
from digest.themes import LEANING_DAYS, assign, assign_all  # noqa: E402
from digest.urls import canonical_url  # noqa: E402

LABELS = REPO / "bench" / "labels" / "grouping.csv"
SPLITS = ("dev", "test", "test2", "test3")
Grouper = Callable[[list[Item], Config], list[Story]]


def shared_dir() -> Path:
    return Path(os.environ.get("DIGEST_SHARED", REPO.parent / "shared"))


def load_items(
    corpus: Path, split: str = "all", context: list[Item] | None = None
) -> tuple[list[Item], dict[str, tuple[str, str]]]:
    """The labelled items of a split, cleaned as a build would, and item id -> (theme, group);
    with `context`, the other entries of the same files are added to it, unscored: the
    rest of what a reader of those feeds gets.

    A label's `file` is a path under the corpus folder; a bare name is a feed in
    corpus/feeds (the older rows). A feed entry is keyed by its link, else its guid,
    else `#index`; an item read from a local file (a newsletter e-mail splits into one
    item per story) by its own link, else its title, else `#n`, its place in the file.
    """
    labels: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    with LABELS.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["split"] not in SPLITS:
                raise ValueError(f"{LABELS.name}: unknown split {row['split']!r}")
            if split in ("all", row["split"]):
                labels[row["file"]][row["key"]] = (row["theme"], row["group"])
    items: list[Item] = []
    gold: dict[str, tuple[str, str]] = {}
    missing = quotes = dropped = 0
    for file, keyed in sorted(labels.items()):
        path = corpus / (file if "/" in file else f"feeds/{file}")
        read = feed_entries if path.parent == corpus / "feeds" else local_entries
        found: set[str] = set()
        for entry_id, keys, cleaned in read(path, file):
            key = next((k for k in keys if k in keyed and k not in found), None)
            if key is None:
                if context is not None:
                    context.extend(replace(i, id=entry_id) for i in cleaned if i.kind != "quote")
                continue
            found.add(key)
            dropped += not cleaned
            for item in cleaned:
                if item.kind == "quote":  # a build sets quotes aside, unmerged and unthemed
                    quotes += 1
                    continue
                item = replace(item, id=entry_id)
                items.append(item)
                gold[item.id] = keyed[key]
        missing += len(set(keyed) - found)
    if missing:
        print(f"warning: {missing} labelled entries not found in the corpus", file=sys.stderr)
    if dropped:
        print(
            f"note: {dropped} labelled entries dropped by the cleaner (sponsors' posts), as a "
            "build drops them",
            file=sys.stderr,
        )
    if quotes:
        print(
            f"note: {quotes} labelled quotes of the day set aside, as a build does", file=sys.stderr
        )
    return items, gold


Entries = Iterator[tuple[str, tuple[str, ...], tuple[Item, ...]]]


def feed_entries(path: Path, file: str) -> Entries:
    """Each entry of a feed file: an id, the keys a label may use, its cleaned items."""
    url = f"https://corpus.invalid/{file}"
    feed = parse_feed(path.read_bytes(), None, url)
    source = Source(name=file, url=url)
    for index, entry in enumerate(feed.entries):
        keys = tuple(k for k in (entry.url, entry.guid, f"#{index}") if k)
        yield f"{file}#{index}", keys, clean(new_item(source, feed.title, entry).raw).items


def local_entries(path: Path, file: str) -> Entries:
    """Each item a local file cleans into, read as a build reads a `path` source."""
    n = 0
    for raw in read_local(Source(name=file, path=path), path.parent).items:
        for item in clean(raw).items:
            keys = tuple(k for k in (item.url, item.title, f"#{n}") if k)
            yield f"{file}#{n}", keys, (item,)
            n += 1


def real_grouping(items: list[Item], config: Config) -> list[Story]:
    return assign_all(list(merge(items).stories), config.themes, config.catch_all)


@dataclass(frozen=True)
class Replay:
    stories: list[Story]  # every story of every day, themed as that day's build themes it
    repeats: list[Story]  # the stories a day's build left out or marked as an update


def daily_replay(items: list[Item], config: Config, history: bool) -> Replay:
    """The items built day by day in publication order, as the pipeline builds them:
    each day's items merged, its stories checked against the earlier issues (a real
    SQLite history in a temporary folder) and themed, with the stories of the last
    LEANING_DAYS days' issues for the outlets' leanings when `history` is set. Every
    story of a day is themed and scored, the left-out ones too, and every story kept
    is published (as if each issue had room for all). Undated items make one day of
    their own, first, with no history."""
    days: dict[dt.date | None, list[Item]] = defaultdict(list)
    for item in items:
        days[item.published].append(item)
    stories: list[Story] = []
    repeats: list[Story] = []
    with tempfile.TemporaryDirectory() as folder:
        database = Database(Path(folder) / "state.sqlite")
        issues = SQLiteHistory(database)
        for day in sorted(days, key=lambda d: (d is not None, d or dt.date.min)):
            merged = merge(days[day]).stories
            if day is None:
                stories.extend(assign_all(list(merged), config.themes, config.catch_all))
                continue
            kept = drop_repeats(merged, issues, day)
            past = issues.stories_before(day, LEANING_DAYS) if history else []
            themed = assign_all(list(merged), config.themes, config.catch_all, past)
            stories.extend(themed)
            published = {s.id for s in kept.stories}
            repeats.extend(s for s in kept.stories if s.update_of is not None)
            repeats.extend(s for s in merged if s.id not in published)
            issue = [s for s in themed if s.id in published]
            keys = {key for s in issue for key in story_keys(s)}
            issues.record_issue(day, keys, [published_record(s, day) for s in issue])
        database.close()
    return Replay(stories, repeats)


def within_days(evaluated: dict[str, object], items: list[Item]) -> str:
    """Duplicate pairs as the daily builds merge them: only pairs told on one day can be
    merged (a later telling is the history's to catch)."""
    day_of = {item.id: item.published for item in items}
    missed: list[tuple[str, str]] = evaluated["missed"]  # type: ignore[assignment]
    extra: list[tuple[str, str]] = evaluated["extra"]  # type: ignore[assignment]
    found = evaluated["pair_counts"][0]  # type: ignore[index]
    same_day = found + sum(1 for a, b in missed if day_of[a] == day_of[b])
    return f"{found} of {same_day} same-day pairs merged, {len(extra)} false pairs"


def across_days(replay: Replay, items: list[Item], gold: dict[str, tuple[str, str]]) -> str:
    """How the daily builds treat a story told again on a later day: a later telling is
    an item whose duplicate group has an item published 1 to LOOKBACK_DAYS days
    before it (what the history looks back over); it should be left out or marked as
    an update. A story left out or marked that retells nothing earlier is lost news."""
    day_of = {item.id: item.published for item in items}
    members: dict[str, list[str]] = defaultdict(list)
    for item_id, (_, group) in gold.items():
        if group:
            members[group].append(item_id)

    def told_before(item_id: str) -> bool:
        day, group = day_of.get(item_id), gold[item_id][1]
        if not group or day is None:
            return False
        earlier = [day_of.get(other) for other in members[group]]
        return any(d is not None and 0 < (day - d).days <= LOOKBACK_DAYS for d in earlier)

    later = {i for i in gold if told_before(i)}
    scored = [s for s in replay.repeats if any(i.id in gold for i in s.items)]  # not context
    repeated = {item.id for s in scored for item in s.items}
    false = sum(1 for s in scored if not any(told_before(i.id) for i in s.items if i.id in gold))
    return (
        f"{len(later & repeated)} of {len(later)} later tellings left out or marked as an "
        f"update; {false} of {len(scored)} labelled stories left out or marked retell nothing "
        "earlier"
    )


def baseline_grouping(items: list[Item], config: Config) -> list[Story]:
    """Merge only by page or headline; theme by the first keyword hit in config order."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        key = canonical_url(item.url) if item.url else item.title.lower()
        groups.setdefault(key, []).append(item)
    stories = []
    for group in groups.values():
        (story,) = merge(group[:1]).stories
        story = replace(story, items=tuple(group))
        stories.append(assign(story, config.themes, config.catch_all, min_score=0.01))
    return stories


def evaluate(stories: list[Story], gold: dict[str, tuple[str, str]]) -> dict[str, object]:
    theme_of = {item.id: s.theme for s in stories for item in s.items}
    story_of = {item.id: s.id for s in stories for item in s.items}
    ids = sorted(gold)
    labels = sorted({gold[i][0] for i in ids})
    per_theme = {}
    for label in labels:
        tp = sum(1 for i in ids if gold[i][0] == label and theme_of[i] == label)
        fp = sum(1 for i in ids if gold[i][0] != label and theme_of[i] == label)
        fn = sum(1 for i in ids if gold[i][0] == label and theme_of[i] != label)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per_theme[label] = (p, r, 2 * p * r / (p + r) if p + r else 0.0, tp + fn)
    confusion = Counter((gold[i][0], theme_of[i]) for i in ids)
    gold_pairs = {
        (a, b) for a, b in combinations(ids, 2) if gold[a][1] and gold[a][1] == gold[b][1]
    }
    predicted = {(a, b) for a, b in combinations(ids, 2) if story_of[a] == story_of[b]}
    hit = len(gold_pairs & predicted)
    precision = hit / len(predicted) if predicted else 1.0
    recall = hit / len(gold_pairs) if gold_pairs else 1.0
    return {
        "macro_f1": sum(v[2] for v in per_theme.values()) / len(per_theme),
        "accuracy": sum(1 for i in ids if gold[i][0] == theme_of[i]) / len(ids),
        "per_theme": per_theme,
        "confusion": confusion,
        "labels": labels,
        "pairs": (precision, recall, 2 * precision * recall / (precision + recall or 1)),
        "pair_counts": (hit, len(predicted), len(gold_pairs)),
        "missed": sorted(gold_pairs - predicted),
        "extra": sorted(predicted - gold_pairs),
        "titles": {item.id: s.title for s in stories for item in s.items},
    }


def report(
    this: dict[str, object],
    base: dict[str, object],
    n: int,
    split: str,
    every_pair: bool = False,
) -> None:
    print(f"Quality on {n} hand-labelled corpus items, split {split} (this | baseline)")
    print(f"  theme macro-F1      {this['macro_f1']:.3f} | {base['macro_f1']:.3f}")
    print(f"  theme accuracy      {this['accuracy']:.3f} | {base['accuracy']:.3f}")
    ours: tuple[float, float, float] = this["pairs"]  # type: ignore[assignment]
    theirs: tuple[float, float, float] = base["pairs"]  # type: ignore[assignment]
    counts: tuple[int, int, int] = this["pair_counts"]  # type: ignore[assignment]
    (p, r, f), (bp, br, bf), (hit, pred, gold) = ours, theirs, counts
    print(f"  duplicate pairs P   {p:.3f} | {bp:.3f}")
    print(f"  duplicate pairs R   {r:.3f} | {br:.3f}")
    print(f"  duplicate pairs F1  {f:.3f} | {bf:.3f}", end="")
    print(f"   ({hit} of {gold} gold pairs found, {pred} predicted)")
    print("\n  per theme (this): precision recall F1 support")
    per_theme: dict[str, tuple[float, float, float, int]] = this["per_theme"]  # type: ignore[assignment]
    for label, (tp, tr, tf, support) in per_theme.items():
        print(f"    {label:13s} {tp:6.2f} {tr:6.2f} {tf:6.2f} {support:5d}")
    labels: list[str] = this["labels"]  # type: ignore[assignment]
    confusion: Counter[tuple[str, str]] = this["confusion"]  # type: ignore[assignment]
    predicted_labels = sorted({b for _, b in confusion} | set(labels))
    print("\n  confusion (rows: label, columns: predicted)")
    print("    " + " " * 13 + " ".join(f"{c[:6]:>6s}" for c in predicted_labels))
    for row in labels:
        cells = " ".join(f"{confusion.get((row, c), 0):6d}" for c in predicted_labels)
        print(f"    {row:13s}{cells}")
    titles: dict[str, str] = this["titles"]  # type: ignore[assignment]
    for name in ("missed", "extra"):
        pairs: list[tuple[str, str]] = this[name]  # type: ignore[assignment]
        if pairs and every_pair:
            print(f"\n  {name} duplicate pairs ({len(pairs)}):")
            for a, b in pairs:
                print(f"    {a} ~ {b}\n      {titles[a][:70]!r} ~ {titles[b][:70]!r}")
        elif pairs:
            print(f"\n  {name} duplicate pairs: " + "; ".join(f"{a} ~ {b}" for a, b in pairs[:8]))


def synthetic(n: int, seed: int = 7) -> list[Item]:
    """n items, about a third of them retellings of another with a fifth of the words changed."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(30_000)] + ["battery", "AI", "rocket", "gene", "court"]
    items: list[Item] = []
    originals: list[list[str]] = []
    for i in range(n):
        if originals and rng.random() < 0.33:
            words = list(rng.choice(originals))
            for k in rng.sample(range(len(words)), len(words) // 5):
                words[k] = rng.choice(vocab)
        else:
            words = [rng.choice(vocab) for _ in range(rng.randint(60, 400))]
            originals.append(words)
        items.append(
            Item(
                id=f"s{i:06d}",
                origin="synthetic",
                title=" ".join(words[:9]),
                url=f"https://example.com/{i}",
                source=f"Outlet {i % 40}",
                published=None,
                blocks=(Block("paragraph", " ".join(words[9:]) + "."),),
            )
        )
    return items


def scale_one(n: int, config: Config) -> None:
    """Group n synthetic items in this (fresh) process; print seconds, CPU and peak RSS."""
    items = synthetic(n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu = time.perf_counter(), time.process_time()
    stories = real_grouping(items, config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{seconds:.3f} {cpu:.3f} {peak / 1024:.1f} {(peak - before) / 1024:.1f} {len(stories)}")


def scale(sizes: list[int]) -> None:
    """Each size in its own process, so peak memory is that run's alone."""
    print("\nScale: merge + themes on synthetic items (each size in a fresh process)")
    print(f"  {'items':>7} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'grew MB':>8} {'stories':>8}")
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--scale-one", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        wall, cpu, peak, grew, stories = out
        row = f"{float(wall):8.2f} {float(cpu):8.2f} {float(peak):8.1f} {float(grew):8.1f}"
        print(f"  {n:7d} {row} {stories:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--split", choices=[*SPLITS, "all"], help="one split only (default: each)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--pairs", action="store_true", help="list every missed and extra pair with headlines"
    )
    parser.add_argument(
        "--daily", action="store_true", help="also replay each split as daily builds"
    )
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = load_config(REPO / "digest.toml")
    if args.scale_one:
        scale_one(args.scale_one, config)
        return
    summary = []
    daily: list[tuple[str, int, dict[str, object], dict[str, object], str]] = []
    for split in [args.split] if args.split else [*SPLITS, "all"]:
        context: list[Item] = []
        items, gold = load_items(shared_dir() / "corpus", split, context if args.daily else None)
        this = evaluate(real_grouping(items, config), gold)
        base = evaluate(baseline_grouping(items, config), gold)
        report(this, base, len(gold), split, every_pair=args.pairs)
        print()
        summary.append((split, len(gold), this))
        if args.daily:
            days = items + context
            without, replay = (daily_replay(days, config, history=h) for h in (False, True))
            alone, seen = evaluate(without.stories, gold), evaluate(replay.stories, gold)
            repeats = f"{within_days(seen, items)}; {across_days(replay, items, gold)}"
            daily.append((split, len(gold), alone, seen, repeats))
    print("Summary (goals: theme macro-F1 >= 0.85, duplicate-pair F1 >= 0.90)")
    print(
        f"  {'split':6} {'items':>6} {'macro-F1':>9} {'accuracy':>9}   pair P / R / F1 (found/gold)"
    )
    for split, n, this in summary:
        p, r, f = this["pairs"]  # type: ignore[misc]
        hit, _, pairs = this["pair_counts"]  # type: ignore[misc]
        figures = f"{this['macro_f1']:9.3f} {this['accuracy']:9.3f}"
        print(f"  {split:6} {n:6d} {figures}   {p:.3f} / {r:.3f} / {f:.3f} ({hit}/{pairs})")
    if daily:
        print(f"\nDaily builds, themes (without | with the {LEANING_DAYS} days' issue history)")
        print(f"  {'split':6} {'items':>6} {'macro-F1':>15} {'accuracy':>15}")
        for split, n, alone, seen, _ in daily:
            f1 = f"{alone['macro_f1']:.3f} | {seen['macro_f1']:.3f}"
            accuracy = f"{alone['accuracy']:.3f} | {seen['accuracy']:.3f}"
            print(f"  {split:6} {n:6d} {f1:>15} {accuracy:>15}")
        print(
            f"Daily builds, duplicates (across days: told again up to {LOOKBACK_DAYS} days later)"
        )
        for split, *_, repeats in daily:
            print(f"  {split:6} {repeats}")
    if not args.no_scale:
        scale(args.sizes)


if __name__ == "__main__":
    main()
