"""Sending: every reader exactly once, nothing lost, through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from conftest import REPO, EmailLint, run_digest
from smtp_sink import DROP, Received, Sink, SMTPServer, tls_context

from digest.config import Config, ConfigError, load_config
from digest.pipeline import build
from digest.recipients import RecipientError, load_recipients, read_csv
from digest.send import NotBuilt, send_issue
from digest.sendlog import SQLiteSendLog
from digest.store import Database, SQLiteHistory

DATE = dt.date(2026, 11, 22)
READERS = [f"reader{n}@example.net" for n in range(1, 6)]


@pytest.fixture(scope="session")
def built_issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed issue, built once: the out folder every test copies."""
    root = tmp_path_factory.mktemp("built")
    shutil.copy(REPO / "digest.toml", root / "digest.toml")
    shutil.copytree(REPO / "seeds", root / "seeds")
    config = load_config(root / "digest.toml")
    database = Database(root / "state.sqlite")
    build(config, DATE, root / "out", SQLiteHistory(database))
    database.close()
    return root / "out"


@pytest.fixture
def sink(request: pytest.FixtureRequest) -> Sink:
    """The server's handler; it offers PIPELINING when a test is run `BOTH_WAYS`."""
    return Sink(pipelining=getattr(request, "param", False))


# With a server that offers PIPELINING, MAIL, RCPT and DATA leave together; without, one by one.
BOTH_WAYS = pytest.mark.parametrize(
    "sink", [False, True], ids=["one-by-one", "pipelining"], indirect=True
)


@pytest.fixture
def server(sink: Sink) -> Iterator[SMTPServer]:
    server = SMTPServer(sink)
    yield server
    server.close()


def make_project(
    tmp_path: Path,
    built_issue: Path,
    port: int,
    extra: str = "",
    to: list[str] = READERS,
    retry_delay: float = 0.01,
) -> Path:
    """A config pointing at the test server, with the seed issue already built."""
    shutil.copytree(built_issue, tmp_path / "out")
    (tmp_path / "digest.toml").write_text(
        "[newsletter]\n"
        'name = "The Digest"\n'
        'from = "The Digest <digest@news.example.com>"\n'
        f"to = {json.dumps(to)}\n"
        'timezone = "America/New_York"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5\n'
        f"[send]\nretry_delay = {retry_delay}\n" + extra,
        "utf-8",
    )
    return tmp_path / "digest.toml"


def config_for(tmp_path: Path, built_issue: Path, port: int, **kw: object) -> Config:
    return load_config(make_project(tmp_path, built_issue, port, **kw))  # type: ignore[arg-type]


def states(config: Config) -> dict[str, str]:
    database = Database(config.state_path)
    try:
        return {r.recipient: r.state for r in SQLiteSendLog(database).records(DATE)}
    finally:
        database.close()


def records(config: Config) -> dict[str, tuple[str, int, str]]:
    database = Database(config.state_path)
    try:
        log = SQLiteSendLog(database).records(DATE)
        return {r.recipient: (r.state, r.attempts, r.reply) for r in log}
    finally:
        database.close()


def received_by(sink: Sink) -> Counter[str]:
    return Counter(address for r in sink.received for address in r.recipients)


def check_message(received: Received, address: str) -> None:
    msg = received.message
    assert msg["To"] == address
    assert received.recipients == [address]
    assert received.sender == "digest@news.example.com"
    assert msg["Subject"] == "The Digest: What’s next for EV batteries in 2026"
    assert msg["List-Unsubscribe"] == (
        f"<https://example.com/unsubscribe?email={address}>, "
        f"<mailto:unsubscribe@example.com?subject=unsubscribe%20{address}>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<digest\.2026-11-22\.[0-9a-f]{16}@news\.example\.com>", msg["Message-ID"])
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert "What’s next for EV batteries in 2026" in text.get_content()
    assert "What’s next for EV batteries in 2026" in html.get_content()


# --- a normal batch --------------------------------------------------------------


@BOTH_WAYS
def test_a_batch_reaches_every_reader_once_over_one_connection(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink, email_lint: EmailLint
) -> None:
    config = config_for(tmp_path, built_issue, server.port, to=[*READERS, "READER1@example.net"])
    report = send_issue(config, DATE)

    assert report.complete and report.sent == 5
    assert received_by(sink) == Counter(READERS)
    assert sink.connections == 1
    for received, address in zip(sink.received, READERS, strict=True):
        check_message(received, address)
    assert len({r.message["Message-ID"] for r in sink.received}) == 5
    assert {r.data.split(b"\r\n\r\n", 1)[1] for r in sink.received}.__len__() == 1
    log = records(config)
    assert set(log) == set(READERS)
    assert all(state == "sent" and attempts == 1 for state, attempts, _ in log.values())
    assert all(reply.startswith("250 2.0.0 queued") for _, _, reply in log.values())

    eml = tmp_path / "received.eml"
    eml.write_bytes(sink.received[0].data)
    result = email_lint(eml)
    assert result.returncode == 0, result.stdout

    again = send_issue(config, DATE)
    assert again.sent == 0 and again.already_sent == 5
    assert len(sink.received) == 5


# --- a dropped connection, 4xx, 5xx -----------------------------------------------


@BOTH_WAYS
def test_a_connection_dropped_half_way_is_resumed_without_sending_anyone_twice(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    sink.script = lambda stage, address, n: DROP if (stage, n) == ("rcpt", 3) else None
    config = config_for(tmp_path, built_issue, server.port)
    report = send_issue(config, DATE)

    assert report.complete and report.sent == 5
    assert received_by(sink) == Counter(READERS)
    assert sink.connections == 2
    assert set(states(config).values()) == {"sent"}


@BOTH_WAYS
def test_a_drop_after_the_message_left_leaves_that_reader_in_doubt_never_resent(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    sink.script = lambda stage, address, n: DROP if (stage, n) == ("data", 2) else None
    project = make_project(tmp_path, built_issue, server.port)
    config = load_config(project)
    report = send_issue(config, DATE)

    assert report.sent == 4 and not report.complete
    assert [p.recipient for p in report.in_doubt] == ["reader2@example.net"]
    assert received_by(sink) == Counter(READERS)  # the server did keep it
    assert send_issue(config, DATE).sent == 0
    assert received_by(sink) == Counter(READERS)

    status = run_digest("send", "--status", "--date", "2026-11-22", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "4 sent, 0 failed, 0 pending, 1 in doubt, of 5" in status.stdout
    assert re.search(r"in doubt\treader2@example\.net\t1 attempts\tconnection lost", status.stdout)

    resend = run_digest("send", "--resend-in-doubt", "--date", "2026-11-22", cwd=tmp_path)
    assert resend.returncode == 0, resend.stderr
    assert received_by(sink)["reader2@example.net"] == 2  # asked for, explicitly
    assert set(states(config).values()) == {"sent"}


@BOTH_WAYS
def test_a_451_is_retried_with_backoff_then_accepted(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    tries: Counter[str] = Counter()

    def busy_once(stage: str, address: str, n: int) -> str | None:
        if stage == "data" and address == "reader2@example.net":
            tries[address] += 1
            if tries[address] == 1:
                return "451 4.3.0 try again later"
        return None

    sink.script = busy_once
    config = config_for(tmp_path, built_issue, server.port, retry_delay=30)
    slept: list[float] = []
    report = send_issue(config, DATE, sleep=slept.append)

    assert report.complete and report.sent == 5
    assert received_by(sink) == Counter(READERS)
    assert len(slept) == 1 and 25 < slept[0] <= 30  # the others went out while it waited
    state, attempts, _ = records(config)["reader2@example.net"]
    assert (state, attempts) == ("sent", 2)


def test_a_4xx_that_never_clears_leaves_the_reader_pending_for_the_next_run(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    sink.script = lambda stage, address, n: (
        "452 4.2.2 mailbox full" if address == "reader4@example.net" else None
    )
    config = config_for(tmp_path, built_issue, server.port, retry_delay=10)
    slept: list[float] = []
    report = send_issue(config, DATE, sleep=slept.append)

    assert report.sent == 4
    assert [(p.recipient, p.reply) for p in report.pending] == [
        ("reader4@example.net", "452 4.2.2 mailbox full")
    ]
    assert len(slept) == 3  # three retries, each waiting twice as long
    assert slept[1] == pytest.approx(20, abs=1) and slept[2] == pytest.approx(40, abs=1)
    sink.script = lambda stage, address, n: None
    assert send_issue(config, DATE).sent == 1
    assert received_by(sink) == Counter(READERS)


@BOTH_WAYS
def test_a_550_for_one_reader_is_failed_with_the_server_text_and_the_rest_go_out(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    sink.script = lambda stage, address, n: (
        "550 5.1.1 <reader3@example.net>: no such user"
        if address == "reader3@example.net"
        else None
    )
    project = make_project(tmp_path, built_issue, server.port)
    result = run_digest("send", "--date", "2026-11-22", cwd=tmp_path)

    assert result.returncode == 1
    assert "4 sent now, 0 sent before, 1 failed" in result.stderr
    assert (
        "failed\treader3@example.net\t0 attempts\t550 5.1.1 <reader3@example.net>: no such user"
        in result.stdout
    )
    assert received_by(sink) == Counter(r for r in READERS if r != "reader3@example.net")
    assert records(load_config(project))["reader3@example.net"][0] == "failed"


@BOTH_WAYS
def test_a_421_to_rcpt_reconnects_and_that_reader_gets_the_issue_once(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    sink.script = lambda stage, address, n: (
        "421 4.7.0 closing, try later" if (stage, n) == ("rcpt", 2) else None
    )
    config = config_for(tmp_path, built_issue, server.port)
    report = send_issue(config, DATE)

    assert report.complete and report.sent == 5
    assert received_by(sink) == Counter(READERS)
    assert sink.connections == 2
    assert records(config)["reader2@example.net"][:2] == ("sent", 1)


# --- STARTTLS and AUTH --------------------------------------------------------------


def test_starttls_and_auth_with_the_password_from_the_environment(
    tmp_path: Path, built_issue: Path, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustme
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        ok = (data.login, data.password) == (b"digest", b"s3cret-from-env")
        return AuthResult(success=ok, auth_data=data.login)

    server = SMTPServer(
        sink,
        tls_context=tls_context(str(tmp_path / "server.pem"), str(tmp_path / "server.pem")),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    try:
        extra = 'ca_file = "ca.pem"\nusername = "digest"\npassword_env = "TEST_SMTP_PASSWORD"\n'
        project = make_project(tmp_path, built_issue, server.port)
        text = project.read_text().replace('security = "none"\n', 'security = "starttls"\n' + extra)
        project.write_text(text)

        result = run_digest("send", "--date", "2026-11-22", "--to", READERS[0], cwd=tmp_path)
        assert result.returncode == 2
        assert "TEST_SMTP_PASSWORD" in result.stderr and not sink.received

        env = {"TEST_SMTP_PASSWORD": "s3cret-from-env"}
        result = run_digest("send", "--date", "2026-11-22", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "s3cret" not in result.stdout + result.stderr
        assert received_by(sink) == Counter(READERS)
        assert all(r.tls and r.login == "digest" for r in sink.received)
        check_message(sink.received[0], READERS[0])
        assert logins == [(b"digest", b"s3cret-from-env")]  # one connection for the batch

        wrong = run_digest(
            "send", "--date", "2026-11-23", cwd=tmp_path, env={"TEST_SMTP_PASSWORD": "nope"}
        )
        assert wrong.returncode == 2  # not built: nothing tried
    finally:
        server.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_stops_the_run_and_names_the_server(
    tmp_path: Path, built_issue: Path, sink: Sink
) -> None:
    from aiosmtpd.smtp import AuthResult

    def refuse(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        return AuthResult(success=False, handled=False)

    server = SMTPServer(
        sink,
        authenticator=refuse,
        auth_required=True,
        auth_require_tls=False,
    )
    try:
        project = make_project(tmp_path, built_issue, server.port, extra="")
        project.write_text(
            project.read_text().replace("timeout = 5\n", 'timeout = 5\nusername = "x"\n')
        )
        result = run_digest(
            "send", "--date", "2026-11-22", cwd=tmp_path, env={"DIGEST_SMTP_PASSWORD": "bad"}
        )
        assert result.returncode == 2
        assert f"127.0.0.1:{server.port}: login as x refused: 535" in result.stderr
        assert "bad" not in result.stderr.replace("127.0.0.1", "")
        assert not sink.received
    finally:
        server.close()


# --- resume after a crash -----------------------------------------------------------


def test_a_run_that_crashes_between_messages_is_finished_by_the_next_one(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    config = config_for(tmp_path, built_issue, server.port)

    def crash_after_two(recipient: object, outcome: object) -> None:
        if len(sink.received) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        send_issue(config, DATE, on_result=crash_after_two)
    assert Counter(states(config).values()) == {"sent": 2, "pending": 3}

    report = send_issue(config, DATE)
    assert report.complete and report.sent == 3 and report.already_sent == 2
    assert received_by(sink) == Counter(READERS)


def test_killing_the_sender_mid_batch_never_sends_anyone_twice(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    readers = [f"r{n:02d}@example.net" for n in range(20)]

    def slow(stage: str, address: str, n: int) -> str | None:
        if stage == "data":
            time.sleep(0.03)
        return None

    sink.script = slow
    make_project(tmp_path, built_issue, server.port, to=readers)
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--date", "2026-11-22"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(sink.received) < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert len(sink.received) >= 5

    result = run_digest("send", "--date", "2026-11-22", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    counts = received_by(sink)
    assert set(counts.values()) == {1}  # nobody twice
    log = states(load_config(tmp_path / "digest.toml"))
    in_doubt = {r for r, state in log.items() if state == "sending"}
    assert set(readers) - set(counts) <= in_doubt  # a gap only where the log says so
    assert {r for r, state in log.items() if state != "sending"} <= set(counts)
    assert len(in_doubt) <= 1


# --- headers, dry run, missing issue, other transports ------------------------------------


def test_a_title_with_crlf_cannot_add_a_header_or_a_recipient(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    config = config_for(tmp_path, built_issue, server.port, to=[READERS[0]])
    data_file = tmp_path / "out" / "2026-11-22" / "digest.json"
    data = json.loads(data_file.read_text("utf-8"))
    data["subject"] = "Big news\r\nBcc: victim@example.org\r\n\r\nfake body"
    data["title"] = "Tïtle\nX-Evil: 1"
    data_file.write_text(json.dumps(data), "utf-8")

    send_issue(config, DATE)
    (received,) = sink.received
    assert received.recipients == [READERS[0]]
    msg = received.message
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == "Big news Bcc: victim@example.org fake body"
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and not re.search(rb"^Bcc:", head, re.M | re.I)


def test_dry_run_writes_each_exact_message_and_sends_nothing(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    make_project(tmp_path, built_issue, server.port)
    result = run_digest("send", "--dry-run", "--date", "2026-11-22", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outbox = tmp_path / "out" / "2026-11-22" / "outbox"
    files = sorted(outbox.iterdir())
    assert [f.name for f in files] == [f"{n:05d}-{a}.eml" for n, a in enumerate(READERS, 1)]
    assert not sink.received and not (tmp_path / ".digest").exists()

    config = load_config(tmp_path / "digest.toml")
    send_issue(config, DATE)
    for file, received in zip(files, sink.received, strict=True):
        assert file.read_bytes().replace(b"\n", b"\r\n") + b"\r\n" == received.data + b"\r\n"


def test_sending_an_issue_that_was_not_built_names_the_folder(
    tmp_path: Path, built_issue: Path
) -> None:
    make_project(tmp_path, built_issue, 9)
    result = run_digest("send", "--date", "2026-11-23", cwd=tmp_path)
    assert result.returncode == 2
    folder = tmp_path / "out" / "2026-11-23"
    assert f"{folder}: the 2026-11-23 issue has not been built" in result.stderr
    assert "digest build --date 2026-11-23" in result.stderr
    config = load_config(tmp_path / "digest.toml")
    with pytest.raises(NotBuilt):
        send_issue(config, dt.date(2026, 11, 23))


def test_build_send_builds_then_sends_through_the_same_code(
    tmp_path: Path, server: SMTPServer, sink: Sink
) -> None:
    shutil.copy(REPO / "digest.toml", tmp_path / "digest.toml")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    with (tmp_path / "digest.toml").open("a") as f:
        f.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n')
    result = run_digest("build", "--send", "--date", "2026-11-22", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert received_by(sink) == Counter(["readers@example.com"])


def test_a_command_transport_gets_each_message_on_stdin(tmp_path: Path, built_issue: Path) -> None:
    script = tmp_path / "fake_sendmail.py"
    script.write_text(
        "import sys, pathlib\n"
        "to = sys.argv[1]\n"
        "if to.startswith('reader5'): sys.exit(75)\n"
        "pathlib.Path(sys.argv[2], to + '.eml').write_bytes(sys.stdin.buffer.read())\n"
    )
    (tmp_path / "mailbox").mkdir()
    command = [sys.executable, str(script), "{recipient}", str(tmp_path / "mailbox")]
    extra = f'transport = "command"\ncommand = {json.dumps(command)}\nretries = 1\n'
    project = make_project(tmp_path, built_issue, 9)
    project.write_text(project.read_text().replace("[send]\n", "[send]\n" + extra))
    report = send_issue(load_config(project), DATE, sleep=lambda s: None)

    assert report.sent == 4
    assert [p.recipient for p in report.pending] == ["reader5@example.net"]
    assert "exited 75" in report.pending[0].reply
    mailbox = sorted(p.name for p in (tmp_path / "mailbox").iterdir())
    assert mailbox == [f"{a}.eml" for a in READERS[:4]]
    assert b"\r\n" not in (tmp_path / "mailbox" / mailbox[0]).read_bytes()


HOOK_CALLS: list[tuple[str, str, bytes]] = []


def hook(sender: str, recipient: str, message: bytes) -> str:
    HOOK_CALLS.append((sender, recipient, message))
    return "queued by the hook"


def test_a_python_entry_point_receives_each_message(tmp_path: Path, built_issue: Path) -> None:
    HOOK_CALLS.clear()
    project = make_project(tmp_path, built_issue, 9)
    project.write_text(
        project.read_text().replace(
            "[send]\n", '[send]\ntransport = "python"\nentry_point = "test_send:hook"\n'
        )
    )
    config = load_config(project)
    assert send_issue(config, DATE).sent == 5
    assert [c[1] for c in HOOK_CALLS] == READERS
    assert records(config)["reader1@example.net"] == ("sent", 1, "queued by the hook")


def test_dkim_signs_both_list_unsubscribe_headers(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink, email_lint: EmailLint
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    config = config_for(
        tmp_path,
        built_issue,
        server.port,
        to=[READERS[0]],
        extra='[dkim]\nselector = "s1"\nkey_file = "dkim.pem"\n',
    )
    send_issue(config, DATE)
    (received,) = sink.received
    signature = received.message["DKIM-Signature"]
    assert "d=news.example.com" in signature and "s=s1" in signature
    signed = re.search(r"h=([^;]+)", signature.replace(" ", "").replace("\n", ""))
    assert signed and {"list-unsubscribe", "list-unsubscribe-post"} <= {
        h.lower() for h in signed.group(1).split(":")
    }
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
    eml = tmp_path / "signed.eml"
    eml.write_bytes(received.data)
    result = email_lint(eml)
    assert result.returncode == 0, result.stdout
    assert re.search(r"PASS +hdr.dkim", result.stdout)


def test_the_rate_limit_spaces_the_messages(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    config = config_for(tmp_path, built_issue, server.port, extra="rate = 20\n")
    started = time.monotonic()
    send_issue(config, DATE)
    assert len(sink.received) == 5
    assert time.monotonic() - started >= 4 / 20  # five messages, four gaps of 1/rate


# --- recipients and config ------------------------------------------------------------


def test_recipients_from_csv_are_checked_up_front_and_deduplicated(tmp_path: Path) -> None:
    good = tmp_path / "readers.csv"
    good.write_text(
        "name,email\nAnn,ann@example.net\n\n# paused\nBob,BOB@example.net\n,ANN@Example.net\n"
    )
    assert [(r.address, r.to) for r in read_csv(good)] == [
        ("ann@example.net", "Ann <ann@example.net>"),
        ("BOB@example.net", "Bob <BOB@example.net>"),
        ("ANN@Example.net", "ANN@Example.net"),
    ]
    (tmp_path / "digest.toml").write_text('[send]\nrecipients_file = "readers.csv"\n')
    config = load_config(tmp_path / "digest.toml")
    assert [r.address for r in load_recipients(config)] == ["ann@example.net", "BOB@example.net"]
    assert [r.address for r in load_recipients(config, ["x@example.org", "X@example.org"])] == [
        "x@example.org"
    ]

    bad = tmp_path / "readers.csv"
    bad.write_text("email\nann@example.net\nbob at example.net\n")
    with pytest.raises(
        RecipientError,
        match=re.escape(f"{bad}, line 3: not a valid email address: 'bob at example.net'"),
    ):
        load_recipients(config)
    bad.write_text('email\n"ann@example.net\nBcc: evil@example.org"\n')
    with pytest.raises(RecipientError, match="line 2"):
        load_recipients(config)


def test_a_bad_address_at_the_end_of_the_file_records_and_sends_nobody(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    readers = [f"r{n}@example.net" for n in range(1200)]
    extra = 'recipients_file = "readers.csv"\n'
    config = config_for(tmp_path, built_issue, server.port, extra=extra)
    (tmp_path / "readers.csv").write_text("\n".join([*readers, "last one at example.net"]) + "\n")

    with pytest.raises(RecipientError, match=r"readers\.csv, line 1201: not a valid email"):
        send_issue(config, DATE)
    assert not sink.received
    assert records(config) == {}


def test_each_run_answers_for_its_own_readers_whatever_else_the_log_holds(
    tmp_path: Path, built_issue: Path, server: SMTPServer, sink: Sink
) -> None:
    config = config_for(tmp_path, built_issue, server.port)
    first = send_issue(config, DATE, to=("Ann Example <ann@example.org>", "reader1@example.net"))
    assert (first.recipients, first.sent) == (2, 2)
    assert sink.to("ann@example.org")[0].message["To"] == "Ann Example <ann@example.org>"

    second = send_issue(config, DATE)
    assert (second.recipients, second.sent, second.already_sent) == (5, 4, 1)
    assert second.complete
    assert received_by(sink) == Counter([*READERS, "ann@example.org"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[send]\ntransport = "pigeon"\n', "send.transport: expected one of smtp, command, python"),
        ('[send]\ntransport = "command"\n', 'send.command: transport = "command" needs a command'),
        (
            '[smtp]\npassword_env = "hunter2!"\n',
            "smtp.password_env: expected the name of an environment",
        ),
        ('[smtp]\nsecurity = "ssl"\n', "smtp.security: expected one of starttls, tls, none"),
        ('[dkim]\nselector = "s1"\n', "dkim.key_file: DKIM needs both selector and key_file"),
        ("[send]\nrate = -1\n", "send.rate: must be 0"),
        ("[send]\nsync_interval = -1\n", "send.sync_interval: must be 0"),
    ],
)
def test_bad_send_settings_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        load_config(path)


def test_the_wire_format_has_crlf_and_doubles_leading_dots() -> None:
    from digest.transport import wire_format

    assert wire_format(b".a\n.b\r\nc") == b"..a\r\n..b\r\nc\r\n.\r\n"


@pytest.mark.parametrize(
    "messages",
    [
        [b"To: a\n\nbody\n.dot\n", b"To: b\n\nbody\n.dot\n", b"To: c\n\nother"],
        [b".To: a\n\n.\n", b"To: a\r\n\r\nx\ry\r\n", b"To: a\n\n", b"no blank line"],
        [b"To: a\n\n\n\nx", b"To: a\r\n\nx\n", b"To: a\n\n\rx\n", b"To: a\n\nx\r"],
    ],
)
def test_a_body_formatted_once_is_what_formatting_each_message_gives(
    messages: list[bytes],
) -> None:
    from digest.config import SMTPSettings
    from digest.transport import SMTPTransport, wire_format

    transport = SMTPTransport(SMTPSettings(), None)
    assert [transport._wire(m) for m in messages * 2] == [wire_format(m) for m in messages * 2]
