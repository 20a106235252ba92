"""Shared test helpers: golden files, the shared folder, the independent email linter, a feed
server and an item store."""

from __future__ import annotations

import email.message
import email.policy
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer

from digest.itemstore import SQLiteItemStore
from digest.store import Database

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REPO = Path(__file__).resolve().parents[1]

Golden = Callable[[str, str | bytes], None]
EmailLint = Callable[..., subprocess.CompletedProcess[str]]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/* from the current output instead of comparing",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """Compare output with tests/golden/<name>; `--update-golden` rewrites the file instead."""
    update = bool(request.config.getoption("--update-golden"))

    def check(name: str, actual: str | bytes) -> None:
        path = GOLDEN_DIR / name
        data = actual.encode("utf-8") if isinstance(actual, str) else actual
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        if not path.exists():
            pytest.fail(
                f"golden file {path} is missing; run pytest --update-golden to create it",
                pytrace=False,
            )
        expected = path.read_bytes()
        if isinstance(actual, str):
            assert actual == expected.decode("utf-8"), (
                f"{name} differs from its golden file; if the change is intended, "
                "run pytest --update-golden and review the diff"
            )
        else:
            assert actual == expected, f"{name} differs from its golden file"

    return check


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The folder shared between projects (tools, references); DIGEST_SHARED overrides it."""
    override = os.environ.get("DIGEST_SHARED")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def email_lint_path(shared_dir: Path) -> Path:
    path = shared_dir / "tools" / "email_lint.py"
    if not path.is_file():
        pytest.fail(f"email_lint.py not found at {path} (set DIGEST_SHARED)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def email_lint(email_lint_path: Path) -> EmailLint:
    """Run the independent email linter with this interpreter; returns the finished process."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(email_lint_path), *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    return run


def run_digest(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m digest ARGS` in a folder, as a user would run it; never raises on failure."""
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def forwarded_email(html: str, path: Path, sender: str, date: str) -> Path:
    """A newsletter's HTML saved as the .eml a mail client would write: a plain-text part
    and the HTML as its alternative."""
    message = email.message.EmailMessage(policy=email.policy.default)
    message["Subject"] = "Today's edition"
    message["From"] = sender
    message["Date"] = date
    message.set_content("The plain-text part.")
    message.add_alternative(html, subtype="html")
    path.write_bytes(message.as_bytes())
    return path


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1 (see feedserver.py); test_send has an SMTP `server`."""
    with FeedServer() as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteItemStore]:
    """The item store in a fresh SQLite file."""
    database = Database(tmp_path / "state.sqlite")
    yield SQLiteItemStore(database)
    database.close()
