"""Time and peak memory of `digest collect` side by side with rss2email, on N generated
feeds of 50 entries each served from 127.0.0.1, plus the time of a second run when
nothing changed (the server answers conditional requests with 304).

    python bench/collect_vs_rss2email.py                  # N = 50
    python bench/collect_vs_rss2email.py --feeds 50 200 1000
    python bench/collect_vs_rss2email.py --no-rss2email   # digest alone

rss2email comes from PyPI into its own virtual env, bench/.venv-rss2email (git-ignored),
and runs with `r2e run --no-send` (no mail is delivered). The feeds all live on one
loopback host, so digest's per-host limit is raised to its overall concurrency for the
run (real feed lists are spread over many hosts). Peak memory is the largest resident
set of any one process of the run (digest parses in worker processes on every core).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
R2E_VENV = REPO / "bench" / ".venv-rss2email"
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "s = time.perf_counter() - t\n"
    "if p.returncode: sys.stderr.write(p.stderr[-2000:]); sys.exit(p.returncode)\n"
    "print(s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)
SERVER = (
    "import functools, http.server, sys\n"
    "class H(http.server.SimpleHTTPRequestHandler):\n"
    "    def log_message(self, *a): pass\n"
    "class S(http.server.ThreadingHTTPServer):\n"
    "    request_queue_size = 1024\n"
    "    daemon_threads = True\n"
    "h = functools.partial(H, directory=sys.argv[1])\n"
    "s = S(('127.0.0.1', 0), h)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.serve_forever()\n"
)
WORDS = (
    "battery rocket chip model court grid solar orbit robot vaccine router cloud drone "
    "lithium satellite fusion tariff camera sensor network"
).split()


def make_feeds(folder: Path, feeds: int, entries: int) -> list[str]:
    names = []
    for f in range(feeds):
        items = []
        for e in range(entries):
            words = " ".join(WORDS[(f + e + i) % len(WORDS)] for i in range(40))
            items.append(
                f"<item><title>Feed {f} story {e}: {WORDS[e % len(WORDS)]}</title>"
                f"<link>https://site{f}.example/{e}</link><guid>f{f}-e{e}</guid>"
                f"<pubDate>Sun, 22 Nov 2026 {e % 24:02d}:00:00 GMT</pubDate>"
                f"<description><![CDATA[<p>{words}.</p><p>Story {e} of feed {f}, "
                f'with <a href="/more/{e}">a relative link</a>.</p>]]></description></item>'
            )
        name = f"f{f:04d}.xml"
        (folder / name).write_text(
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {f}</title><link>https://site{f}.example/</link>"
            + "".join(items)
            + "</channel></rss>",
            "utf-8",
        )
        names.append(name)
    return names


def measure(command: list[str], cwd: Path) -> tuple[float, int]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr}")
    seconds, kilobytes = result.stdout.split()
    return float(seconds), int(kilobytes)


def digest_setup(work: Path, urls: list[str]) -> list[str]:
    lines = ['[state]\npath = "state.sqlite"\n', "[fetch]\nper_host = 32\nconcurrency = 32\n"]
    lines += [f'[[sources]]\nname = "feed {i}"\nurl = "{u}"\n' for i, u in enumerate(urls)]
    (work / "digest.toml").write_text("\n".join(lines), "utf-8")
    return [sys.executable, "-m", "digest", "collect", "--config", str(work / "digest.toml")]


def r2e_setup(work: Path, urls: list[str]) -> list[str]:
    if not (R2E_VENV / "bin" / "r2e").exists():
        print("installing rss2email into bench/.venv-rss2email ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(R2E_VENV)], check=True)
        subprocess.run(
            [str(R2E_VENV / "bin" / "pip"), "install", "-q", "rss2email"],
            check=True,
        )
    r2e = str(R2E_VENV / "bin" / "r2e")
    config, data = work / "r2e.cfg", work / "r2e.json"
    subprocess.run(
        [r2e, "-c", str(config), "-d", str(data), "new", "bench@example.com"],
        check=True,
        capture_output=True,
    )
    with config.open("a", encoding="utf-8") as f:
        for i, url in enumerate(urls):
            f.write(f"\n[feed.f{i:04d}]\nurl = {url}\n")
    feeds = [
        {"name": f"f{i:04d}", "etag": None, "modified": None, "seen": {}} for i in range(len(urls))
    ]
    data.write_text(json.dumps({"version": 2, "feeds": feeds}), "utf-8")
    return [r2e, "-c", str(config), "-d", str(data), "run", "--no-send"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, nargs="+", default=[50])
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--no-rss2email", action="store_true")
    args = parser.parse_args()
    print(
        f"{'feeds':>6} {'tool':>9} {'first s':>8} {'rerun s':>8} {'peak MB':>8}"
        f" {'first x':>8} {'rerun x':>8}"
    )
    for n in args.feeds:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "feeds").mkdir()
            names = make_feeds(root / "feeds", n, args.entries)
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(root / "feeds")],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert server.stdout is not None
                port = int(server.stdout.readline())
                urls = [f"http://127.0.0.1:{port}/{name}" for name in names]
                results: dict[str, tuple[float, float, int]] = {}
                tools = ["digest"] + ([] if args.no_rss2email else ["rss2email"])
                for tool in tools:
                    work = root / tool
                    work.mkdir()
                    command = (digest_setup if tool == "digest" else r2e_setup)(work, urls)
                    first, kb1 = measure(command, work)
                    rerun, kb2 = measure(command, work)
                    results[tool] = (first, rerun, max(kb1, kb2))
                base = results.get("rss2email")
                for tool, (first, rerun, kb) in results.items():
                    ratio1 = f"{base[0] / first:>7.1f}x" if base else f"{'-':>8}"
                    ratio2 = f"{base[1] / rerun:>7.1f}x" if base else f"{'-':>8}"
                    print(
                        f"{n:>6} {tool:>9} {first:>8.2f} {rerun:>8.2f} {kb / 1024:>8.1f}"
                        f" {ratio1} {ratio2}"
                    )
            finally:
                server.terminate()
                server.wait(timeout=10)
    print("(first x / rerun x: how many times faster than rss2email)")


if __name__ == "__main__":
    main()
