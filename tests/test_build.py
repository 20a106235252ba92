"""The whole path as a user runs it: seeds and the shipped config in, four files out."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, EmailLint, Golden, run_digest

from digest.output import write_atomic

DATE = "2026-11-22"
FILES = ("digest.eml", "digest.html", "digest.json", "digest.txt")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's folder holding the shipped config and the seed corpus."""
    shutil.copy(REPO / "digest.toml", tmp_path / "digest.toml")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    return tmp_path


def build(project: Path, date: str = DATE, *extra: str) -> subprocess.CompletedProcess[str]:
    result = run_digest("build", "--date", date, *extra, cwd=project)
    assert result.returncode == 0, result.stderr
    return result


def test_build_writes_four_files_and_prints_where_they_are(project: Path) -> None:
    result = build(project)
    folder = project / "out" / DATE
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert result.stdout.split() == [str(folder / name) for name in FILES]
    assert "17 stories" in result.stderr


def test_the_seed_issue_matches_its_golden_files(project: Path, golden: Golden) -> None:
    build(project)
    for name in ("digest.html", "digest.txt", "digest.json"):
        golden(f"seeds-{DATE}/{name}", (project / "out" / DATE / name).read_text("utf-8"))


def test_building_the_same_date_twice_gives_byte_identical_files(project: Path) -> None:
    build(project)
    first = {name: (project / "out" / DATE / name).read_bytes() for name in FILES}
    build(project)
    second = {name: (project / "out" / DATE / name).read_bytes() for name in FILES}
    assert first == second


def test_the_next_days_issue_never_repeats_a_published_story(project: Path) -> None:
    build(project)
    build(project, "2026-11-23")
    later = json.loads((project / "out" / "2026-11-23" / "digest.json").read_text("utf-8"))
    assert later["sections"] == []
    assert any(
        "already in the 2026-11-22 issue" in n["message"] for n in later["report"]["dropped"]
    )
    # and the first issue is still stable after the second was built
    before = (project / "out" / DATE / "digest.json").read_bytes()
    build(project)
    assert (project / "out" / DATE / "digest.json").read_bytes() == before


def test_an_earlier_date_built_afterwards_is_a_full_issue_and_changes_nothing_else(
    project: Path,
) -> None:
    build(project)
    before = (project / "out" / DATE / "digest.json").read_bytes()
    build(project, "2026-11-01")
    earlier = json.loads((project / "out" / "2026-11-01" / "digest.json").read_text("utf-8"))
    assert sum(len(s["stories"]) for s in earlier["sections"]) == 17
    build(project)
    assert (project / "out" / DATE / "digest.json").read_bytes() == before


def test_the_day_before_built_afterwards_leaves_the_issue_as_it_was(project: Path) -> None:
    build(project)
    before = (project / "out" / DATE / "digest.json").read_bytes()
    build(project, "2026-11-21")  # a full issue of the same stories, dated the day before
    build(project)
    assert (project / "out" / DATE / "digest.json").read_bytes() == before


def test_the_issue_as_data_holds_sections_stories_and_merged_items(project: Path) -> None:
    build(project)
    data = json.loads((project / "out" / DATE / "digest.json").read_text("utf-8"))
    assert data["date"] == DATE
    themes = [s["theme"]["key"] for s in data["sections"]]
    assert themes[:3] == ["deepfakes", "batteries", "biotech"]
    assert "other" not in themes[:-1]  # the catch-all, when a story needs it, comes last
    stories = [story for section in data["sections"] for story in section["stories"]]
    ev = next(s for s in stories if s["title"] == "What’s next for EV batteries in 2026")
    assert len(ev["items"]) == 2
    assert data["lead"] == ev["id"]
    for story in stories:
        assert {"title", "url", "source", "published", "summary", "items"} <= story.keys()
    undated = next(s for s in stories if s["title"].startswith("Two recent developments"))
    assert undated["published"] is None
    assert data["quote"]["source"] == "Rest of World"
    assert len(data["must_reads"]) == 10
    corrections = " ".join(n["message"] for n in data["report"]["corrections"])
    assert "front matter said 'Inside the marketplace" in corrections


def test_the_seed_issue_is_email_ready(project: Path, email_lint: EmailLint) -> None:
    build(project)
    folder = project / "out" / DATE
    result = email_lint(folder / "digest.eml")
    assert result.returncode == 0, result.stdout
    result = email_lint(folder / "digest.html", "--text", folder / "digest.txt")
    assert result.returncode == 0, result.stdout
    message = email.message_from_bytes(
        (folder / "digest.eml").read_bytes(), policy=email.policy.default
    )
    assert message["Subject"] == "The Digest: What’s next for EV batteries in 2026"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_one_broken_source_never_breaks_the_build(project: Path) -> None:
    (project / "seeds" / "broken.md").write_bytes(b"---\ntitle: [unclosed\n---\n\xff\xfe\x00binary")
    (project / "seeds" / "empty.txt").write_text("")
    (project / "issue.mjml").write_text("<mjml></mjml>")
    with (project / "digest.toml").open("a") as f:
        f.write('\n[[sources]]\nname = "Gone"\npath = "no-such-folder"\n')
        f.write('\n[[sources]]\nname = "Template"\npath = "issue.mjml"\n')
        f.write('\n[[sources]]\nname = "A feed"\nurl = "https://example.com/feed.xml"\n')
    result = build(project, DATE, "--no-collect")  # tests never reach the internet
    assert "no-such-folder: no such file or folder" in result.stderr
    assert "issue.mjml: skipped: not a file digest reads (.eml, .htm" in result.stderr
    assert "https://example.com/feed.xml" in result.stderr
    data = json.loads((project / "out" / DATE / "digest.json").read_text("utf-8"))
    assert sum(len(s["stories"]) for s in data["sections"]) == 17
    warnings = " ".join(f"{n['origin']}: {n['message']}" for n in data["report"]["warnings"])
    assert "seeds/broken.md" in warnings


def test_a_crash_while_writing_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "digest.html"
    target.write_text("old issue")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomic(target, b"new issue")
    assert target.read_text() == "old issue"
    assert [p.name for p in tmp_path.iterdir()] == ["digest.html"]


@pytest.mark.parametrize("command", ["build", "collect", "send", "schedule", "serve"])
def test_every_command_has_help_and_a_config_option(command: str, tmp_path: Path) -> None:
    result = run_digest(command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--config" in result.stdout


def test_a_bad_flag_is_one_line_and_exit_code_2(project: Path) -> None:
    result = run_digest("build", "--colour", cwd=project)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--colour" in result.stderr


def test_a_bad_date_is_one_line_and_exit_code_2(project: Path) -> None:
    result = run_digest("build", "--date", "22/11/2026", cwd=project)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_config_key_names_the_file_and_the_key(project: Path) -> None:
    config = project / "digest.toml"
    config.write_text(config.read_text().replace('path = "seeds"', 'pth = "seeds"'))
    result = run_digest("build", cwd=project)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(config) in line
    assert "sources[0].pth" in line


def test_a_bad_config_value_names_the_file_and_the_key(project: Path) -> None:
    config = project / "digest.toml"
    config.write_text(config.read_text().replace("max_stories = 30", 'max_stories = "many"'))
    result = run_digest("build", cwd=project)
    assert result.returncode == 2
    assert "build.max_stories" in result.stderr
    assert str(config) in result.stderr


def test_a_theme_within_an_unknown_theme_names_the_key(project: Path) -> None:
    from digest.config import ConfigError, load_config

    config = project / "digest.toml"
    config.write_text(config.read_text().replace('within = "ai"', 'within = "a.i."'))
    with pytest.raises(ConfigError, match=r"themes\[0\]\.within.*'a\.i\.'"):
        load_config(config)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"these are my notes, not a database\n" * 200, "not a digest state database"),
        (None, "holds tables digest did not make"),
    ],
)
def test_a_state_file_digest_cannot_use_is_named_without_a_traceback(
    project: Path, content: bytes | None, says: str
) -> None:
    import sqlite3

    state = project / ".digest" / "state.sqlite"
    state.parent.mkdir()
    if content is None:  # another program's tables, under names digest uses
        with sqlite3.connect(state) as db:
            db.execute("CREATE TABLE published (anything TEXT)")
        db.close()
    else:
        state.write_bytes(content)
    before = state.read_bytes()
    result = run_digest("build", "--date", DATE, cwd=project)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"digest: state error: {state}: ")
    assert says in line
    assert content is None or state.read_bytes() == before  # nothing written over it


def test_no_config_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    result = run_digest("build", cwd=tmp_path)
    assert result.returncode == 2
    assert "digest.toml" in result.stderr


def test_the_config_is_found_from_a_subfolder(project: Path) -> None:
    (project / "drafts").mkdir()
    result = run_digest("build", "--date", DATE, cwd=project / "drafts")
    assert result.returncode == 0, result.stderr
    assert (project / "out" / DATE / "digest.html").is_file()


def test_it_works_installed_from_a_wheel_in_any_folder(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wheels = tmp_path_factory.mktemp("wheels")
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("digest-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (site / "digest" / "templates" / "email" / "digest.mjml.j2").is_file()
    env = {"PYTHONPATH": str(site)}
    check = subprocess.run(
        [sys.executable, "-c", "import digest; print(digest.__file__)"],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip().startswith(str(site))
    result = run_digest("build", "--date", DATE, cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert (project / "out" / DATE / "digest.eml").is_file()
