"""Messages per second and peak memory of `digest send`, side by side with a naive baseline.

    python bench/send_rate.py                            # 1,000 recipients (short)
    python bench/send_rate.py --sizes 1000 10000 50000   # the goal: >= 200 msg/s, flat memory

The seed issue is built once. The sink is `bench/smtp_sink.py`: aiosmtpd in its
own process, standing in for Postfix or an email service (it offers PIPELINING,
reads DATA in one piece and only counts). Its own ceiling is measured first, with
a trivial client that sends a ready-made message over one connection, so that
the figures below can be read against it. "this" is `digest send` as a user
runs it (send log, one connection reused, per-reader headers on a body encoded
once). The baseline is the obvious loop: build each message with the email
package and send it with `smtplib.SMTP(...).sendmail` over a new connection per
message, no log. Each runs in its own process, so peak memory (ru_maxrss) and
CPU time are its own. The machine may be shared: each figure is the best of
`--runs` runs, and CPU milliseconds per message are printed next to the rates.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from smtp_sink import ceiling  # noqa: E402

BASELINE = r"""
import sys, smtplib, datetime as dt, json
from pathlib import Path
from digest.config import load_config
from digest.message import build_message, message_bytes
from digest.send import load_built_issue
config = load_config(Path(sys.argv[1]))
port, n = int(sys.argv[2]), int(sys.argv[3])
issue = load_built_issue(config.build.out, dt.date(2026, 11, 22))
for i in range(n):
    to = f"reader{i}@example.net"
    data = message_bytes(build_message(issue, issue.html, issue.text, config, to))
    data = data.replace(b"\n", b"\r\n")  # smtplib sends bytes as they are: CRLF by hand
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail("digest@example.com", [to], data)
"""

MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(time.perf_counter() - t, r.ru_maxrss, r.ru_utime + r.ru_stime)\n"
)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_kb: int
    cpu: float


def measure(command: list[str], cwd: Path) -> Run:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout.split()
    return Run(float(out[0]), int(out[1]), float(out[2]))


def best(runs: list[Run], n: int) -> tuple[float, float, float]:
    """Messages per second, peak MB and CPU ms per message, each the best of the runs."""
    return (
        n / min(r.seconds for r in runs),
        min(r.peak_kb for r in runs) / 1024,
        min(r.cpu for r in runs) / n * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=2, help="best of this many runs of each")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=300,
        help="run the slow baseline on at most this many recipients (its rate is per message)",
    )
    parser.add_argument(
        "--no-pipelining", action="store_true", help="a sink that does not offer PIPELINING"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "seeds", root / "seeds")
        config = (REPO / "digest.toml").read_text("utf-8")
        (root / "digest.toml").write_text(config, "utf-8")
        digest = [sys.executable, "-m", "digest"]
        subprocess.run(
            [*digest, "build", "--date", "2026-11-22"], cwd=root, check=True, capture_output=True
        )
        eml = (root / "out" / "2026-11-22" / "digest.eml").read_bytes()
        pipelining = not args.no_pipelining
        sink_rates = [ceiling(2000, eml, pipelining) for _ in range(args.runs)]
        print(
            f"sink alone ({'with' if pipelining else 'without'} PIPELINING, trivial client, "
            f"one connection): {max(r for r, _ in sink_rates):.0f} msg/s, "
            f"sink CPU {min(c for _, c in sink_rates) * 1000:.2f} ms/msg"
        )

        command = [sys.executable, str(REPO / "bench" / "smtp_sink.py")]
        sink = subprocess.Popen(
            command + ([] if pipelining else ["--no-pipelining"]), stdout=subprocess.PIPE, text=True
        )
        try:
            assert sink.stdout is not None
            port = int(sink.stdout.readline())
            config += (
                f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                '[send]\nrecipients_file = "readers.csv"\n'
            )
            (root / "digest.toml").write_text(config, "utf-8")
            print(
                f"{'readers':>8} {'this msg/s':>11} {'base msg/s':>11} {'ratio':>6} "
                f"{'this MB':>8} {'base MB':>8} {'ratio':>6} {'this CPU ms/msg':>16}"
            )
            for n in args.sizes:
                lines = ["email", *(f"reader{i}@example.net" for i in range(n))]
                (root / "readers.csv").write_text("\n".join(lines) + "\n", "utf-8")
                this: list[Run] = []
                for _ in range(args.runs):
                    shutil.rmtree(root / ".digest", ignore_errors=True)
                    this.append(measure([*digest, "send", "--date", "2026-11-22"], root))
                base_n = min(n, args.baseline_max)
                base_command = [sys.executable, "-c", BASELINE, str(root / "digest.toml")]
                base = [
                    measure([*base_command, str(port), str(base_n)], root) for _ in range(args.runs)
                ]
                this_rate, this_mb, this_cpu = best(this, n)
                base_rate, base_mb, _ = best(base, base_n)
                print(
                    f"{n:>8} {this_rate:>11.0f} {base_rate:>11.0f} {this_rate / base_rate:>6.2f} "
                    f"{this_mb:>8.1f} {base_mb:>8.1f} {this_mb / base_mb:>6.2f} {this_cpu:>16.2f}"
                )
        finally:
            sink.terminate()
            sink.wait(10)


if __name__ == "__main__":
    main()
