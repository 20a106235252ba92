"""Messages per second and peak memory of `digest send`, side by side with a naive baseline.

    python bench/send_rate.py                      # 1,000 recipients (short)
    python bench/send_rate.py --sizes 1000 10000   # the goal: 10,000 at >= 200 msg/s

The seed issue is built once; a local aiosmtpd sink (tests/smtp_sink.py) runs in
another process and only counts. "this" is `digest send` as a user runs it (send
log, one connection reused, per-reader headers on a body encoded once). The
baseline is the obvious loop: build each message with the email package and
send it with `smtplib.SMTP(...).sendmail` over a new connection per message, no
log. Each runs in its own process, so peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

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


def peak_kb(command: list[str], cwd: Path) -> tuple[float, int]:
    measure = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", measure, *command],
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=2000,
        help="run the slow baseline on at most this many recipients (its rate is per message)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "seeds", root / "seeds")
        config = (REPO / "digest.toml").read_text("utf-8")
        sink = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "smtp_sink.py")],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert sink.stdout is not None
            port = int(sink.stdout.readline())
            config += (
                f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                '[send]\nrecipients_file = "readers.csv"\n'
            )
            (root / "digest.toml").write_text(config, "utf-8")
            digest = [sys.executable, "-m", "digest"]
            subprocess.run(
                [*digest, "build", "--date", "2026-11-22"],
                cwd=root,
                check=True,
                capture_output=True,
            )
            print(
                f"{'readers':>8} {'this msg/s':>11} {'base msg/s':>11} {'ratio':>6} "
                f"{'this MB':>8} {'base MB':>8} {'ratio':>6}"
            )
            for n in args.sizes:
                lines = ["email", *(f"reader{i}@example.net" for i in range(n))]
                (root / "readers.csv").write_text("\n".join(lines) + "\n", "utf-8")
                shutil.rmtree(root / ".digest", ignore_errors=True)
                this_s, this_kb = peak_kb([*digest, "send", "--date", "2026-11-22"], root)
                base_n = min(n, args.baseline_max)
                base_s, base_kb = peak_kb(
                    [
                        sys.executable,
                        "-c",
                        BASELINE,
                        str(root / "digest.toml"),
                        str(port),
                        str(base_n),
                    ],
                    root,
                )
                this_rate, base_rate = n / this_s, base_n / base_s
                print(
                    f"{n:>8} {this_rate:>11.0f} {base_rate:>11.0f} {this_rate / base_rate:>6.2f} "
                    f"{this_kb / 1024:>8.1f} {base_kb / 1024:>8.1f} {this_kb / base_kb:>6.2f}"
                )
        finally:
            sink.terminate()
            sink.wait(10)


if __name__ == "__main__":
    main()
