"""Time and peak memory of `digest collect` side by side with rss2email, on N generated
feeds of 50 entries each served from 127.0.0.1, plus the time of a second run when
nothing changed (the server answers conditional requests with 304).

    python bench/collect_vs_rss2email.py                          # N = 50, no latency
    python bench/collect_vs_rss2email.py --feeds 50 200 1000 --latency-ms 0 100 --repeat 2
    python bench/collect_vs_rss2email.py --no-rss2email --feeds 1000
    python bench/collect_vs_rss2email.py --baseline main          # and digest as of main

The server is a small asyncio one that holds the feeds in memory, sends ETag and
Last-Modified, answers a matching conditional request with 304 and closes the
connection after each answer (as feeds spread over many hosts would). With
--latency-ms it waits that long before each answer, like a real server across the
network; with 0 the run is bound by the CPU of two processes on one machine, which
is the least flattering case for a tool that fetches concurrently.

Each tool starts from a fresh state for each size and each repeat; runs alternate
between the tools and the best of --repeat is kept, to damp the noise of a shared
machine. rss2email comes from PyPI into its own virtual env, bench/.venv-rss2email
(git-ignored), and runs with `r2e run --no-send` (no mail is delivered). All feeds
live on one host, so digest's per-host limit is raised to its overall concurrency
(real feed lists are spread over many hosts). Peak memory is the largest resident
set of any one process of the run; CPU time, summed over a tool's processes, is
the figure that a busy machine disturbs least. digest's bytecode is compiled first, as an
installed package's is. --baseline REV also runs digest as of a git revision (from
`git archive`, with this virtual env's packages) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
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
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(s, r.ru_utime + r.ru_stime, r.ru_maxrss)\n"
)
WORDS = (
    "battery rocket chip model court grid solar orbit robot vaccine router cloud drone "
    "lithium satellite fusion tariff camera sensor network"
).split()
LAST_MODIFIED = "Sun, 22 Nov 2026 00:00:00 GMT"


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


# The feed server, run as `python collect_vs_rss2email.py --serve FOLDER --latency-ms N`.


def serve(folder: Path, latency: float) -> None:
    files = {f"/{p.name}": p.read_bytes() for p in folder.iterdir()}
    tags = {path: f'"{hashlib.sha256(body).hexdigest()[:16]}"' for path, body in files.items()}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if latency:
                await asyncio.sleep(latency)
            body = files.get(path)
            if body is None:
                reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                body = b""
            elif headers.get("if-none-match") == tags[path] or (
                "if-none-match" not in headers and headers.get("if-modified-since") == LAST_MODIFIED
            ):
                reply = f"HTTP/1.1 304 Not Modified\r\nETag: {tags[path]}\r\n".encode()
                body = b""
            else:
                reply = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                    f"ETag: {tags[path]}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
                    f"Content-Length: {len(body)}\r\n"
                ).encode()
            writer.write(reply + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=4096)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


# The tools, each run as a command in a folder of its own.


def measure(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (all its processes) and peak resident KB of one run."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr}")
    seconds, cpu, kilobytes = result.stdout.split()
    return float(seconds), float(cpu), int(kilobytes)


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


def export(revision: str, folder: Path) -> Path:
    """The digest package as of `revision`, for running side by side with this tree."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "digest", "templates"],
        check=True,
        capture_output=True,
    ).stdout
    folder.mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "digest")], check=True)
    return folder


Result = tuple[float, float, float, float, int]  # first s and CPU s, re-run s and CPU s, peak KB


def run_size(n: int, entries: int, latency_ms: float, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "feeds").mkdir()
        names = make_feeds(root / "feeds", n, entries)
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(root / "feeds"),
                "--latency-ms",
                str(latency_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            urls = [f"http://127.0.0.1:{port}/{name}" for name in names]
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            tools: dict[str, dict[str, str] | None] = {"digest": env}
            if args.baseline:
                base = export(args.baseline, root / "baseline")
                tools[f"@{args.baseline}"[:9]] = {**env, "PYTHONPATH": str(base)}
            if not args.no_rss2email and n <= args.rss2email_max:
                tools["rss2email"] = None
            best: dict[str, Result] = {}
            for repeat in range(args.repeat):
                for tool, tool_env in tools.items():
                    work = root / f"{tool}-{repeat}"
                    work.mkdir()
                    setup = r2e_setup if tool == "rss2email" else digest_setup
                    command = setup(work, urls)
                    first = measure(command, work, tool_env)
                    rerun = measure(command, work, tool_env)
                    new = (*first[:2], *rerun[:2], max(first[2], rerun[2]))
                    old = best.get(tool, new)
                    best[tool] = (
                        *(min(a, b) for a, b in zip(old[:4], new[:4], strict=True)),
                        max(old[4], new[4]),
                    )
            report(n, latency_ms, best)
        finally:
            server.terminate()
            server.wait(timeout=10)


def report(n: int, latency_ms: float, results: dict[str, Result]) -> None:
    base = results.get("rss2email")
    for tool, (first, first_cpu, rerun, rerun_cpu, kb) in results.items():
        ratios = [
            f"{base[i] / mine:>7.1f}x" if base else f"{'-':>8}"
            for i, mine in ((0, first), (2, rerun), (1, first_cpu))
        ]
        print(
            f"{latency_ms:>7g} {n:>6} {tool:>9} {first:>8.2f} {first_cpu:>6.2f} {rerun:>8.2f}"
            f" {rerun_cpu:>6.2f} {kb / 1024:>8.1f} {' '.join(ratios)}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, nargs="+", default=[50])
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        default=[0.0],
        help="wait this long before each answer; several values give several tables",
    )
    parser.add_argument("--repeat", type=int, default=1, help="keep the best of this many runs")
    parser.add_argument("--no-rss2email", action="store_true")
    parser.add_argument(
        "--rss2email-max", type=int, default=1000, help="run rss2email up to this many feeds"
    )
    parser.add_argument("--baseline", metavar="REV", help="also run digest as of this revision")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency_ms[0] / 1000)
        return
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "digest")], check=True)
    for latency_ms in args.latency_ms:
        print(f"\nServer latency {latency_ms:g} ms, best of {args.repeat}:")
        print(
            f"{'latency':>7} {'feeds':>6} {'tool':>9} {'first s':>8} {'cpu s':>6} {'rerun s':>8}"
            f" {'cpu s':>6} {'peak MB':>8} {'first x':>8} {'rerun x':>8} {'cpu x':>8}"
        )
        for n in args.feeds:
            run_size(n, args.entries, latency_ms, args)
    print(
        "(s: wall time; cpu s: user + system time of all the tool's processes; first x /"
        " rerun x / cpu x: how many times less than rss2email, best of each)"
    )


if __name__ == "__main__":
    main()
