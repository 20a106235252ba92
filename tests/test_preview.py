"""The preview as an editor uses it: `digest serve` running, real headless Chromium reading it.

One server (the real command, on 127.0.0.1 port 0) and one browser serve the
whole module. Without Chromium these tests fail: a preview nobody has looked
at in a browser is not tested. Screenshots go to tests/output/preview/.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "tests" / "output" / "preview"
DATE = "2026-11-22"
WAIT_MS = 20_000
HOSTILE_TITLE = (
    "Robots <script>console.log('PWNED')</script>"
    "<img src=x onerror=\"console.log('PWNED')\"> take over battery labs"
)
QUOTED_TITLE = HOSTILE_TITLE.replace('"', '\\"')
HOSTILE_SEED = f"""---
title: "{QUOTED_TITLE}"
url: https://example.org/robots-battery-labs
source: Example News
date: 2026-11-20
---
Battery researchers say lab robots now run most sodium-ion battery experiments.

The robots test electrolytes day and night.
"""
NEW_SEED = """---
title: "Drones map the seafloor for broken internet cables"
url: https://example.org/drones-map-cables
source: Example News
date: 2026-11-21
---
Underwater drones now find breaks in subsea internet cables within hours, repair crews say.
"""
BROKEN_FOOTER = """{# a footer with a mistake on line 3 #}
<mj-section><mj-column><mj-text>
{% if %}
</mj-text></mj-column></mj-section>
"""


@dataclass
class Site:
    url: str
    project: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @property
    def templates(self) -> Path:
        return self.project / "my-templates"

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(get(self, "/status")[1])
        return data

    def wait_for_build(self, after: int, timeout: float = 20.0) -> dict[str, Any]:
        """The status once a build newer than version `after` has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status["version"] > after and not status["building"]:
                return status
            time.sleep(0.1)
        pytest.fail(f"no rebuild within {timeout} s; server said:\n" + "\n".join(self.log))


def get(site: Site, target: str) -> tuple[int, str]:
    """A raw GET, sent exactly as written (no client-side `..` clean-up)."""
    connection = http.client.HTTPConnection(site.url.split("//")[1].rstrip("/"), timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the preview tests need Debian's chromium "
            "(apt-get install chromium; .ci/run installs it)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A user's project (shipped config, seeds, one hostile item) served by `digest serve`."""
    project = tmp_path_factory.mktemp("preview")
    config = (REPO / "digest.toml").read_text("utf-8")
    config = config.replace("[state]", '[templates]\ndir = "my-templates"\n\n[state]', 1)
    (project / "digest.toml").write_text(config, "utf-8")
    shutil.copytree(REPO / "seeds", project / "seeds")
    (project / "seeds" / "zz_hostile.md").write_text(HOSTILE_SEED, "utf-8")
    (project / "my-templates" / "email").mkdir(parents=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", "0", "--date", DATE],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line.rstrip())
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=30)
    except queue.Empty:
        process.kill()
        pytest.fail("digest serve printed nothing within 30 s")
    assert " at http://127.0.0.1:" in first, first
    url = first.split(" at ", 1)[1].split()[0]
    served = Site(url=url, project=project, process=process, log=log)
    try:
        status = served.wait_for_build(after=0, timeout=60)
        assert status["problem"] is None, status
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Console:
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Console]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    console = Console()

    def on_console(message: Any) -> None:
        console.messages.append(message.text)
        if message.type == "error":
            console.errors.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: console.errors.append(str(error)))
    yield tab, console
    context.close()


def screenshot(tab: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_view(tab: Any, site: Site, view: str) -> None:
    tab.goto(f"{site.url}issues/{DATE}/{view}")
    tab.wait_for_load_state("load")


def email_frame(tab: Any) -> Any:
    frame = tab.frame_locator("iframe#email")
    frame.locator("body").wait_for()
    return tab.frame(url=lambda u: "/files/" in u)


def test_the_archive_lists_the_issue_and_opens_it(site: Site, page: tuple[Any, Console]) -> None:
    tab, console = page
    tab.goto(site.url)
    issue = tab.locator("li.issue").first
    assert "What’s next for EV batteries in 2026" in issue.inner_text()
    assert "18 stories in 7 sections" in issue.inner_text()
    screenshot(tab, "archive")
    issue.locator("a").first.click()
    tab.wait_for_url(f"**/issues/{DATE}/")
    assert tab.locator("nav.views [aria-current=page]").inner_text() == "Desktop"
    assert console.errors == []


def test_every_view_of_an_issue_shows_its_built_file(site: Site, page: tuple[Any, Console]) -> None:
    tab, console = page
    open_view(tab, site, "")
    built = site.project / "out" / DATE
    for view, label in [
        ("desktop", "Desktop"),
        ("phone", "Phone"),
        ("dark", "Dark mode"),
        ("text", "Plain text"),
        ("report", "Build report"),
    ]:
        tab.get_by_role("link", name=label, exact=True).click()
        tab.wait_for_url(f"**/issues/{DATE}/{view}")
        if view in ("desktop", "phone", "dark"):
            frame = email_frame(tab)
            assert "The Digest" in frame.locator("body").inner_text()
        elif view == "text":
            text = (built / "digest.txt").read_text("utf-8")
            assert tab.locator("pre#text").inner_text() == text
        else:
            assert tab.locator(".chart svg rect").count() > 0
            assert "2 items merged into" in tab.locator("#merged").inner_text()
        screenshot(tab, f"issue-{view}")
    with tab.expect_download() as download:
        tab.get_by_role("link", name="Download .eml").click()
    assert Path(download.value.path()).read_bytes() == (built / "digest.eml").read_bytes()
    assert console.errors == []


def test_the_phone_view_is_375px_wide_with_no_horizontal_scroll(
    site: Site, page: tuple[Any, Console]
) -> None:
    tab, console = page
    open_view(tab, site, "phone")
    frame = email_frame(tab)
    width, scroll_width = frame.evaluate(
        "[document.documentElement.clientWidth, document.documentElement.scrollWidth]"
    )
    assert width == 375
    assert scroll_width <= width
    assert tab.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert console.errors == []


def test_the_dark_view_shows_the_emails_dark_mode(site: Site, page: tuple[Any, Console]) -> None:
    tab, console = page
    open_view(tab, site, "dark")
    frame = email_frame(tab)
    background = frame.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 18, 18)"
    open_view(tab, site, "desktop")
    light = email_frame(tab).evaluate("getComputedStyle(document.body).backgroundColor")
    assert light != background
    assert console.errors == []


def test_a_script_in_an_item_title_never_runs(site: Site, page: tuple[Any, Console]) -> None:
    tab, console = page
    for view in ("desktop", "dark", "text", "report"):
        open_view(tab, site, view)
        if view in ("desktop", "dark"):
            frame = email_frame(tab)
            assert "<script>console.log('PWNED')</script>" in frame.locator("body").inner_text()
            assert frame.locator("script").count() == 0
        tab.wait_for_timeout(200)
    tab.goto(site.url)
    assert not any("PWNED" in m for m in console.messages)
    assert console.errors == []


def test_paths_outside_the_output_folder_are_refused(site: Site) -> None:
    secret = (site.project / "digest.toml").read_text("utf-8")
    (site.project / "out" / "escape").symlink_to(site.project)
    for target in (
        "/files/../digest.toml",
        "/../digest.toml",
        "/files/%2e%2e/digest.toml",
        "/files/2026-11-22/../../digest.toml",
        "/files/escape/digest.toml",
        "/static/../../digest.toml",
    ):
        status, body = get(site, target)
        assert status in (403, 404), target
        assert "[newsletter]" not in body and secret not in body
    assert get(site, f"/files/{DATE}/digest.txt")[0] == 200


def test_only_loopback_host_names_are_answered(site: Site) -> None:
    connection = http.client.HTTPConnection(site.url.split("//")[1].rstrip("/"), timeout=10)
    connection.request("GET", "/", headers={"Host": "attacker.example"})
    assert connection.getresponse().status == 403
    connection.close()


def edit_and_wait_for_reload(site: Site, tab: Any, change: Callable[[], None]) -> dict[str, Any]:
    """Make a change, then wait until the open page has reloaded onto the rebuild it caused."""
    before = site.status()["version"]
    with tab.expect_navigation(timeout=WAIT_MS):
        change()
    status = site.wait_for_build(after=before)
    tab.wait_for_function(
        f"Number(document.documentElement.dataset.version) >= {status['version']}",
        timeout=WAIT_MS,
    )
    return status


def test_editing_a_template_rebuilds_and_the_open_page_reloads(
    site: Site, page: tuple[Any, Console]
) -> None:
    tab, console = page
    footer = site.templates / "email" / "_footer.mjml.j2"
    builtin = (REPO / "templates" / "email" / "_footer.mjml.j2").read_text("utf-8")
    open_view(tab, site, "desktop")
    try:
        edited = builtin + "\n<mj-raw><p>Edited footer</p></mj-raw>\n"
        edit_and_wait_for_reload(site, tab, lambda: footer.write_text(edited))
        assert "Edited footer" in email_frame(tab).locator("body").inner_text()
        screenshot(tab, "issue-after-template-edit")
    finally:
        edit_and_wait_for_reload(site, tab, footer.unlink)
    assert "Edited footer" not in email_frame(tab).locator("body").inner_text()
    assert console.errors == []


def test_a_broken_template_shows_its_error_and_line_and_the_server_goes_on(
    site: Site, page: tuple[Any, Console]
) -> None:
    tab, console = page
    footer = site.templates / "email" / "_footer.mjml.j2"
    open_view(tab, site, "desktop")
    try:
        status = edit_and_wait_for_reload(site, tab, lambda: footer.write_text(BROKEN_FOOTER))
        assert status["problem"]["line"] == 3
        problem = tab.locator(".problem")
        assert "template syntax error" in problem.inner_text()
        assert f"{footer}, line 3" in problem.locator(".where").inner_text()
        assert problem.locator(".excerpt .at").inner_text().strip() == "3  {% if %}"
        assert "The Digest" in email_frame(tab).locator("body").inner_text()
        screenshot(tab, "issue-with-broken-template")
    finally:
        status = edit_and_wait_for_reload(site, tab, footer.unlink)
    assert status["problem"] is None
    assert tab.locator(".problem").count() == 0
    assert console.errors == []


def test_editing_the_config_or_a_seed_rebuilds_the_issue(site: Site) -> None:
    config = site.project / "digest.toml"
    original = config.read_text("utf-8")
    seed = site.project / "seeds" / "zz_new.md"
    try:
        before = site.status()["version"]
        config.write_text(original.replace("in one read.", "in one sitting."), "utf-8")
        site.wait_for_build(after=before)
        assert "in one sitting." in get(site, "/")[1]

        before = site.status()["version"]
        seed.write_text(NEW_SEED, "utf-8")
        site.wait_for_build(after=before)
        issue = json.loads(get(site, f"/files/{DATE}/digest.json")[1])
        titles = [story["title"] for section in issue["sections"] for story in section["stories"]]
        assert "Drones map the seafloor for broken internet cables" in titles
    finally:
        before = site.status()["version"]
        seed.unlink(missing_ok=True)
        config.write_text(original, "utf-8")
        site.wait_for_build(after=before)
