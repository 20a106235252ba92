"""Time and peak memory of `digest build` on the seed corpus scaled up, side by side
with a baseline revision of this repository.

    python bench/build_speed.py                     # this tree vs HEAD
    python bench/build_speed.py --baseline main~3   # this tree vs another revision
    python bench/build_speed.py --sizes 1 20 100    # copies of the seed corpus

Each copy of the seeds gets its own URLs and titles, so nothing merges away and
every stage sees N times the work. Runs alternate between the two trees and the
best of --repeat runs is kept, which damps noise from the rest of the machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def make_corpus(folder: Path, copies: int) -> Path:
    """A config and `copies` renamed copies of every seed."""
    seeds = folder / "seeds"
    seeds.mkdir(parents=True)
    for n in range(copies):
        for seed in sorted((REPO / "seeds").iterdir()):
            text = seed.read_text("utf-8")
            text = re.sub(r"(https?://[^\s)\]]+?)/(?=[)\s\]\"]|$)", rf"\1-c{n}/", text)
            text = re.sub(r"^(# .+|\*\*\d+ .+\*\*|Title: .+)$", rf"\1 (copy {n})", text, flags=re.M)
            (seeds / f"{n:04d}_{seed.name}").write_text(text, "utf-8")
    config = (REPO / "digest.toml").read_text("utf-8")
    config = config.replace("max_stories = 30", "max_stories = 1000")
    (folder / "digest.toml").write_text(config, "utf-8")
    return folder / "digest.toml"


def run(tree: Path, config: Path, out: Path) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    state = config.parent / ".digest"
    shutil.rmtree(state, ignore_errors=True)
    command = [sys.executable, "-m", "digest", "build", "--config", str(config)]
    command += ["--date", "2026-11-22", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )
    seconds, kilobytes = result.stdout.split()
    return float(seconds), int(kilobytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 40])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            print(
                f"{'copies':>6} {'files':>6} {'this s':>8} {'base s':>8} {'ratio':>6} "
                f"{'this MB':>8} {'base MB':>8} {'ratio':>6}"
            )
            for copies in args.sizes:
                config = make_corpus(Path(tmp) / f"corpus{copies}", copies)
                best: dict[str, tuple[float, int]] = {}
                for _ in range(args.repeat):
                    for name, tree in (("this", REPO), ("base", base)):
                        seconds, kb = run(tree, config, Path(tmp) / "out")
                        old = best.get(name, (float("inf"), 0))
                        best[name] = (min(old[0], seconds), max(old[1], kb))
                (ts, tk), (bs, bk) = best["this"], best["base"]
                print(
                    f"{copies:>6} {copies * 5:>6} {ts:>8.2f} {bs:>8.2f} {ts / bs:>6.2f} "
                    f"{tk / 1024:>8.1f} {bk / 1024:>8.1f} {tk / bk:>6.2f}"
                )
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                check=False,
                capture_output=True,
            )


if __name__ == "__main__":
    main()
