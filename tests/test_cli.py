"""The `gateway` command, run as the real program in subprocesses."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from gateway import cli
from gateway.config import load_settings
from gateway.sandbox.data import generate
from gateway.sandbox.server import SandboxServer, config_toml
from gateway.sockets import http_url
from tests.graph import expect as ex
from tests.processes import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = ROOT.parent / "shared" / "contract" / "operations"
START_TIMEOUT_S = 30.0
SECRET = "tok-S3CRET-value-never-printed"


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


def _env(log_level: str = "WARNING") -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "GATEWAY_LOG_LEVEL": log_level}


class Running:
    """A long-running command whose output is read line by line in a thread."""

    def __init__(self, *args: str, log_level: str = "WARNING") -> None:
        self.proc = subprocess.Popen(
            _command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(log_level),
            cwd=ROOT,
            start_new_session=True,  # its workers too are stopped with it (`__exit__`)
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, text: str, count: int = 1) -> str:
        """Everything printed until `count` lines containing `text`."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while sum(text in line for line in self.seen) < count:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {''.join(self.seen)!r}") from None
            if line is None:
                raise AssertionError(f"exited without {text!r}: {''.join(self.seen)!r}")
            self.seen.append(line)
        return "".join(self.seen)

    def output(self) -> str:
        """Everything printed, once it has exited (its workers with it)."""
        self._reader.join(timeout=START_TIMEOUT_S)
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            # The whole group: a worker left running would hold the output pipe open,
            # and closing it below would wait on the reader for good.
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# --- check-config ------------------------------------------------------------------

BAD_CONFIGS = {
    "unknown-key": ("[server]\nprot = 8000\n", "server.prot"),
    "wrong-type": ('[server]\nport = "eighty"\n', "server.port"),
    # As `serve --port 0` is refused; in the file, it listened on a port picked at random.
    "port-zero": ("[server]\nport = 0\n", "server.port: must be 1..65535"),
    # `serve` failed on it with an error naming no key.
    "bad-host": ('[server]\nhost = "not a host!"\n', "server.host: neither a host name"),
    "bad-url": (
        '[[organizations]]\nid = "a"\nname = "A"\n[organizations.zylon]\n'
        f'base_url = "not a url"\norg_slug = "a"\ntoken = "{SECRET}"\n',
        "organizations[0].zylon.base_url",
    ),
    "missing-env": (
        '[[organizations]]\nid = "a"\nname = "A"\n[organizations.make]\n'
        'base_url = "https://eu1.make.com/api/v2"\norganization_id = 1\n'
        'token = "${GATEWAY_TEST_SURELY_UNSET}"\n',
        "GATEWAY_TEST_SURELY_UNSET",
    ),
    "short-secret": ('[security]\ncursor_secret = "tok-S3CRET"\n', "security.cursor_secret"),
    "client-org": (
        '[[organizations]]\nid = "a"\nname = "A"\n[[clients]]\nname = "c"\n'
        f'api_key = "{SECRET}"\norganizations = ["nope"]\n',
        "clients[0].organizations",
    ),
    "not-toml": ("[server\nport = 1\n", "not valid TOML"),
}


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main` in this process: leave pytest's logging set-up alone."""
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)


def test_check_config_accepts_a_good_file(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(config_toml(sandbox.url))
    assert cli.main(["check-config", str(good)]) == 0
    out, err = capsys.readouterr()
    assert "ok (3 organizations, 2 clients" in out
    assert "sbx-" not in out + err  # no sandbox token printed


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_check_config_refuses_a_bad_file_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: None, name: str
) -> None:
    text, key = BAD_CONFIGS[name]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code = cli.main(["check-config", str(path)])
    out, err = capsys.readouterr()
    assert code != 0
    assert key in err, err
    assert "S3CRET" not in out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[graphql]\ntrusted_documents = "{missing}"\n', "graphql.trusted_documents"),
        ('[graphql]\ntrusted_documents = "{not_json}"\n', "is not JSON"),
        ('[graphql]\ntrusted_documents = "{deep}"\n', "is not JSON (nested too deeply)"),
    ],
)
def test_check_config_refuses_what_the_app_would_refuse(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    quiet: None,
    extra: str,
    message: str,
) -> None:
    """Also what only building the app reads: `serve --workers N` checks the same
    before starting workers, which uvicorn would otherwise restart without end."""
    not_json = tmp_path / "manifest.json"
    not_json.write_text("{")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    path = tmp_path / "gateway.toml"
    path.write_text(
        config_toml(sandbox.url)
        + extra.format(missing=tmp_path / "missing.json", not_json=not_json, deep=deep)
    )
    assert cli.main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert message in err
    assert "Traceback" not in out + err
    handler = signal.getsignal(signal.SIGTERM)
    port = str(free_port())
    assert cli.main(["serve", "--config", str(path), "--workers", "2", "--port", port]) == 1
    assert message in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is handler  # the caller's, as it was


@pytest.mark.parametrize("option", ["timeout=2", "foo=bar"])
def test_a_redis_url_option_the_client_refuses_is_refused_at_once(
    option: str,
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    quiet: None,
) -> None:
    """Else the cache is silently off: every call fails, with a warning a minute."""
    path = _redis_config(tmp_path / "gateway.toml", sandbox, f"redis://:hunter2pass@h/0?{option}")
    assert cli.main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "cache.url: an option" in err
    assert option.split("=")[0] in err
    assert "hunter2pass" not in err
    url = "redis://:hunter2pass@127.0.0.1:6379/0?socket_timeout=2"
    assert cli.main(["check-config", str(_redis_config(tmp_path / "good.toml", sandbox, url))]) == 0


def _redis_config(path: Path, sandbox: SandboxServer, url: str) -> Path:
    path.write_text(config_toml(sandbox.url) + f'\n[cache]\nbackend = "redis"\nurl = "{url}"\n')
    return path


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://:hunter2pass@127.0.0.1:6379/0?socket_timeout=s3cr3tv4l", "socket_timeout"),
        ("redis://:hunter2pass@127.0.0.1:6379/0?health_check_interval=s3cr3tv4l", None),
        ("redis://:hunter2pass@127.0.0.1:s3cr3tv4l/0", None),
        ("ftp://:hunter2pass@127.0.0.1/s3cr3tv4l", None),
        ("rediss://:hunter2pass@127.0.0.1:6379/0?ssl_cert_reqs=s3cr3tv4l", None),
    ],
)
def test_a_redis_url_the_client_cannot_read_is_a_config_error_that_shows_no_value(
    url: str,
    named: str | None,
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    quiet: None,
) -> None:
    """redis-py's messages quote values, and its causes' more: a password could be one."""
    path = _redis_config(tmp_path / "gateway.toml", sandbox, url)
    for command in (["check-config", str(path)], ["serve", "--config", str(path)]):
        assert cli.main(command) == 1
        err = capsys.readouterr().err
        assert "cache.url: " in err
        assert "Traceback" not in err
        assert "s3cr3tv4l" not in err
        assert "hunter2pass" not in err
        if named is not None:
            assert f"its option {named!r}" in err


def test_a_config_that_serves_nobody_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing yet\n")
    assert cli.main(["check-config", str(empty)]) == 1
    assert "at least one [[organizations]] and one [[clients]]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--port", "70000"),
        ("--port", "-1"),
        ("--port", "http"),
        # As `server.workers = 0` is in a config file (it started one process silently).
        ("--workers", "0"),
        ("--workers", "-1"),
        ("--workers", "two"),
        ("--workers", "100000000000"),
    ],
)
def test_a_port_or_a_number_of_workers_out_of_range_is_refused(
    option: str, value: str, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--sandbox", option, value])
    assert info.value.code == 2
    assert option.removeprefix("--").rstrip("s") in capsys.readouterr().err


@pytest.mark.parametrize("host", ["", "bad host"])
def test_a_host_that_is_none_is_refused_before_listening(
    host: str, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    """`sandbox --host ""` listened on every interface and printed a config naming no
    host, which check-config then refused."""
    for command in (["sandbox", "--host", host], ["serve", "--sandbox", "--host", host]):
        with pytest.raises(SystemExit) as info:
            cli.main(command)
        assert info.value.code == 2
        assert "--host: neither a host name nor an IP address" in capsys.readouterr().err


def test_sandbox_and_a_config_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    """The sandbox makes its own config: one given beside it was silently ignored."""
    assert cli.main(["serve", "--sandbox", "--config", str(tmp_path / "gw.toml")]) == 2
    assert "--config" in capsys.readouterr().err


@pytest.mark.parametrize("sandbox", [True, False])
def test_a_port_another_server_holds_is_refused_before_any_banner(
    sandbox: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    quiet: None,
) -> None:
    """One line saying so, and no GraphiQL URL pointing at the other server."""
    path = tmp_path / "gateway.toml"
    path.write_text(config_toml("http://127.0.0.1:9"))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        source = ["--sandbox"] if sandbox else ["--config", str(path)]
        assert cli.main(["serve", *source, "--port", port]) == 1
    out, err = capsys.readouterr()
    assert "GraphiQL" not in out
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_serve_refuses_port_zero(capsys: pytest.CaptureFixture[str], quiet: None) -> None:
    """It would listen on a port picked at random that no caller learns."""
    assert cli.main(["serve", "--sandbox", "--port", "0"]) == 2
    assert "--port 0" in capsys.readouterr().err


def test_check_config_on_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    missing = tmp_path / "missing.toml"
    assert cli.main(["check-config", str(missing)]) != 0
    assert str(missing) in capsys.readouterr().err


# --- schema --------------------------------------------------------------------------


def test_schema_prints_the_published_sdl(capsys: pytest.CaptureFixture[str], quiet: None) -> None:
    assert cli.main(["schema"]) == 0
    plain = capsys.readouterr().out
    assert cli.main(["schema", "--federation"]) == 0
    federation = capsys.readouterr().out
    assert plain == (ROOT / "schema" / "schema.graphql").read_text()
    assert federation == (ROOT / "schema" / "subgraph.graphql").read_text()
    assert 'type Organization @key(fields: "id")' in federation
    assert "type Organization {" in plain


# --- serve --sandbox and sandbox --------------------------------------------------------


@pytest.fixture
def port() -> int:
    return free_port()


def test_serve_sandbox_prints_graphiql_and_the_demo_key_and_answers(port: int) -> None:
    data = generate()  # the same seed as the embedded sandbox: the same figures
    time_range = ex.whole_days(ex.day(data, 40), ex.day(data, 11))
    with Running("serve", "--sandbox", "--port", str(port)) as served:
        printed = served.until("Demo API key")
        assert f"http://127.0.0.1:{port}/graphql" in printed
        assert "sandbox-demo-key" in printed
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz")
        with httpx.Client(base_url=base, timeout=30) as http:
            response = http.post(
                "/graphql",
                json={
                    "query": (OPERATIONS / "dashboard.graphql").read_text(),
                    "variables": {"org": "aurora", "range": time_range},
                },
                headers={"Authorization": "Bearer sandbox-demo-key"},
            )
            page = http.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        got = body["data"]["organization"]
        got["scenarios"] = ex.strip_cursors(got["scenarios"])
        assert got == ex.dashboard(data, "aurora", time_range)
        assert page.status_code == 200
        assert "sandbox-demo-key" in page.text  # the demo key is pre-filled in GraphiQL
        assert served.stop() == 0


def test_serve_sandbox_with_workers_prefills_graphiql_in_every_worker(port: int) -> None:
    """Each worker builds its own app: the demo key and query reach them all."""
    with Running("serve", "--sandbox", "--port", str(port), "--workers", "2") as served:
        served.until("Demo API key")
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz")
        for _ in range(4):  # a connection each: the workers take turns at the socket
            with httpx.Client(base_url=base, timeout=30) as http:
                page = http.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200
            assert "sandbox-demo-key" in page.text
        assert served.stop() == 0


def test_sandbox_prints_a_config_that_check_config_accepts(
    port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    with Running("sandbox", "--port", str(port)) as sandbox:
        printed = sandbox.until('organizations = ["aurora"]')
        config = printed  # all of it: `gateway sandbox > gateway.toml` must load
        assert config.startswith("# Sandbox upstreams at")
        assert f"http://127.0.0.1:{port}/zylon" in config
        path = tmp_path / "gateway.toml"
        path.write_text(config)
        assert cli.main(["check-config", str(path)]) == 0
        assert "ok (3 organizations" in capsys.readouterr().out
        # The printed config does point at a working sandbox, with the demo data.
        settings = load_settings(path)
        aurora = settings.organization("aurora")
        assert aurora is not None
        assert aurora.zylon is not None
        url = f"{aurora.zylon.base_url}/api/v1/app/organization/analytics/totals"
        headers = {
            "Authorization": f"Bearer {aurora.zylon.token.reveal()}",
            "x-org": aurora.zylon.org_slug,
        }
        totals = wait_ready(url, headers).json()
        expected = ex.workspace(generate().zylon_org("aurora"))
        assert totals["projects_total"] == expected["projects"]
        assert totals["interactions_total"] == expected["interactions"]
        assert sandbox.stop() == 0


def _healthz_over(conn: socket.socket) -> bytes:
    """The whole answer to a GET /healthz sent on an open connection, and nothing more."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received or len(received) < _answer_length(received):
        chunk = conn.recv(4096)
        assert chunk, "the server closed the connection"
        received += chunk
    return received


def _answer_length(received: bytes) -> int:
    head, _, _ = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return len(head) + 4 + length


@contextlib.contextmanager
def _connected(port: int, tmp_path: Path, keep_alive_s: int) -> Iterator[socket.socket]:
    """A connection to `gateway serve` with this keep-alive, after one answered request."""
    with SandboxServer() as sandbox:
        path = tmp_path / "gateway.toml"
        config = config_toml(sandbox.url, api_key="k" * 24)
        path.write_text(f"[server]\nkeep_alive_s = {keep_alive_s}\n" + config)
        with Running("serve", "--config", str(path), "--port", str(port)):
            wait_ready(f"http://127.0.0.1:{port}/healthz")
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                assert _healthz_over(conn).startswith(b"HTTP/1.1 200")
                yield conn


def test_serve_keeps_an_idle_connection_open_for_the_configured_keep_alive(
    port: int, tmp_path: Path
) -> None:
    """`server.keep_alive_s` reaches the server: with uvicorn's own 5 s, the connection would
    be closed during the wait, and the next request on it would find it closed."""
    with _connected(port, tmp_path, keep_alive_s=60) as conn:
        time.sleep(6)  # idle past uvicorn's default
        assert _healthz_over(conn).startswith(b"HTTP/1.1 200")


def test_serve_closes_an_idle_connection_after_a_short_keep_alive(
    port: int, tmp_path: Path
) -> None:
    """The other side of the setting: a value is used, not a constant that happens to be
    long. (Within the socket's 30 s timeout; 65 s would not close it.)"""
    with _connected(port, tmp_path, keep_alive_s=1) as conn:
        assert conn.recv(4096) == b""  # closed by the server, idle


def _counted(scrape: str, metric: str) -> float:
    """The sum of a metric's samples in a Prometheus text scrape."""
    samples = [line.split() for line in scrape.splitlines() if line.startswith(metric + "{")]
    return sum(float(sample[-1]) for sample in samples)


def test_every_scrape_of_several_workers_counts_every_request(port: int, tmp_path: Path) -> None:
    """With `--workers 2` a scrape reaches one worker; it still counts the requests both
    answered, and so does every scrape after it, whichever worker takes it."""
    requests = 24
    scrapes: list[str] = []
    with SandboxServer() as sandbox:
        path = tmp_path / "gateway.toml"
        path.write_text(config_toml(sandbox.url, api_key="k" * 24))
        with Running(
            "serve", "--config", str(path), "--port", str(port), "--workers", "2"
        ) as served:
            try:
                base = f"http://127.0.0.1:{port}"
                wait_ready(f"{base}/readyz")
                headers = {"Authorization": f"Bearer {'k' * 24}"}
                query = {"query": "{ __typename }"}
                for _ in range(requests):
                    # A connection each: the workers take turns at the listening socket.
                    with httpx.Client(base_url=base, timeout=30) as client:
                        answer = client.post("/graphql", json=query, headers=headers)
                        assert answer.status_code == 200, answer.text
                for _ in range(8):
                    with httpx.Client(base_url=base, timeout=30) as client:
                        scrapes.append(client.get("/metrics").text)
            finally:
                # SIGTERM: uvicorn stops its workers (a kill would leave them running).
                assert served.stop() == 0
    counts = {_counted(scrape, "gateway_graphql_requests_total") for scrape in scrapes}
    assert counts == {float(requests)}, counts
    assert all("gateway_graphql_requests_in_flight 0.0" in s for s in scrapes), scrapes[0]


def _workers_of(master: int) -> set[int]:
    """The worker processes of `serve --workers N`: the master's children that multiprocessing
    spawned (not its resource tracker, nor a killed worker not yet reaped)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == master and b"spawn_main" in command:
            found.add(int(entry))
    return found


def _until_workers(master: int, ready: Callable[[set[int]], bool]) -> set[int]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready(found := _workers_of(master)):
        if time.monotonic() > deadline:
            raise AssertionError(f"workers never as expected: {found}")
        time.sleep(0.05)
    return found


def _status(base: str, key: str) -> int:
    """A request over a new connection: the workers take turns at the listening socket."""
    with httpx.Client(base_url=base, timeout=30) as http:
        query = {"query": "{ organizations { id } }"}
        answer = http.post("/graphql", json=query, headers={"Authorization": f"Bearer {key}"})
        return answer.status_code


WORKER_KEY_ENV = "GATEWAY_TEST_WORKER_KEY"
STARTED_KEY = "started-with-key-0123456789"
EDITED_KEY = "edited-since-key-0123456789"


@pytest.mark.parametrize("broken", [False, True])
def test_a_replaced_worker_serves_the_config_the_server_started_with(
    broken: bool,
    port: int,
    tmp_path: Path,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The file edited since start-up, then every worker killed (as by the OOM killer): the
    replacements read the file again, so workers served different configs, and an edit that
    broke it had uvicorn restart them forever, a traceback each time."""
    monkeypatch.setenv(WORKER_KEY_ENV, STARTED_KEY)  # ${NAME} works in the workers too
    reference = "${" + WORKER_KEY_ENV + "}"
    path = tmp_path / "gateway.toml"
    path.write_text(config_toml(sandbox.url, api_key=reference))
    base = f"http://127.0.0.1:{port}"
    args = ("serve", "--config", str(path), "--port", str(port), "--workers", "2")
    with Running(*args) as served:
        wait_ready(f"{base}/healthz")
        assert _status(base, STARTED_KEY) == 200
        started = _until_workers(served.proc.pid, lambda found: len(found) == 2)
        edited = path.read_text().replace(reference, EDITED_KEY)
        path.write_text(("bogus_key = 1\n" if broken else "") + edited)
        for worker in started:
            os.kill(worker, signal.SIGKILL)
        _until_workers(served.proc.pid, lambda found: len(found) == 2 and not found & started)
        for _ in range(4):  # replacements only, now
            assert _status(base, STARTED_KEY) == 200
            assert _status(base, EDITED_KEY) == 401
        assert served.stop() == 0
    assert "Traceback" not in served.output()


def _manifest_config(tmp_path: Path, sandbox: SandboxServer) -> tuple[Path, Path]:
    """A config whose trusted documents' manifest lies beside it, relative to it."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    path = tmp_path / "gateway.toml"
    trusted = '\n[graphql]\ntrusted_documents = "manifest.json"\n'
    path.write_text(config_toml(sandbox.url, api_key=STARTED_KEY) + trusted)
    return path, manifest


def test_a_worker_that_cannot_build_its_app_stops_the_server_in_one_line(
    port: int, tmp_path: Path, sandbox: SandboxServer
) -> None:
    """What a worker reads beyond the config (the trusted documents' manifest) broken since
    start-up: a worker's replacement cannot build its app. It says why in one line, and the
    server stops with an error, instead of uvicorn restarting it forever, a traceback each
    time, the server serving on with fewer workers."""
    # Relative: read beside the config file, in the workers too (the server runs from ROOT).
    path, manifest = _manifest_config(tmp_path, sandbox)
    args = ("serve", "--config", str(path), "--port", str(port), "--workers", "2")
    with Running(*args, log_level="INFO") as served:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        started = _until_workers(served.proc.pid, lambda found: len(found) == 2)
        # Both have read the manifest: a worker still starting when it breaks fails too.
        served.until("Application startup complete.", count=2)
        manifest.write_text("{")
        os.kill(min(started), signal.SIGKILL)
        try:
            code = served.proc.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still serving with a worker that cannot start: {served.output()}")
        out = served.output()
    assert code == 1, out
    assert out.count("worker not started: configuration error: graphql.trusted_documents") == 1
    assert "gateway: configuration error: a worker could not start" in out
    assert "is not JSON" in out
    assert "Traceback" not in out


def test_a_reload_a_worker_could_not_start_for_leaves_a_later_stop_clean(
    port: int, tmp_path: Path, sandbox: SandboxServer
) -> None:
    """SIGHUP replaces the workers; one that cannot start leaves the old ones serving, as
    uvicorn does. That failure, over, made the next SIGTERM exit 1 in its name."""
    path, manifest = _manifest_config(tmp_path, sandbox)
    base = f"http://127.0.0.1:{port}"
    args = ("serve", "--config", str(path), "--port", str(port), "--workers", "2")
    with Running(*args, log_level="INFO") as served:
        wait_ready(f"{base}/healthz")
        # Both workers have built their apps (read the manifest); a spawned worker
        # still starting when the manifest breaks fails itself, and the server stops.
        served.until("Application startup complete.", count=2)
        manifest.write_text("{")
        served.proc.send_signal(signal.SIGHUP)
        served.until("aborting the restart")
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200  # the old ones
        assert served.stop() == 0
    assert "Traceback" not in served.output()


def test_a_replacement_worker_needs_no_file_written_at_start_up(
    port: int, tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cleaner of /tmp (systemd-tmpfiles: ten days untouched) removed the copy of the
    config the workers started from: the next replacement could not start, and the
    whole server stopped. (The metrics' files, written at every request, stay.)"""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    path = tmp_path / "gateway.toml"
    path.write_text(config_toml(sandbox.url, api_key=STARTED_KEY))
    base = f"http://127.0.0.1:{port}"
    args = ("serve", "--config", str(path), "--port", str(port), "--workers", "2")
    with Running(*args) as served:
        wait_ready(f"{base}/healthz")
        started = _until_workers(served.proc.pid, lambda found: len(found) == 2)
        for entry in scratch.iterdir():
            if not entry.name.startswith("gateway-metrics-"):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        for worker in started:
            os.kill(worker, signal.SIGKILL)
        _until_workers(served.proc.pid, lambda found: len(found) == 2 and not found & started)
        for _ in range(4):  # replacements only, now
            assert _status(base, STARTED_KEY) == 200
        assert served.stop() == 0
    assert "Traceback" not in served.output()


@pytest.mark.parametrize(
    ("holding", "message"),
    [
        (None, "PROMETHEUS_MULTIPROC_DIR must name a directory"),
        # Another server's values, or a crashed one's, would be summed with this one's.
        ("counter_4242.db", "PROMETHEUS_MULTIPROC_DIR must name an empty directory"),
    ],
)
def test_a_metrics_directory_missing_or_holding_values_is_refused(
    holding: str | None,
    message: str,
    tmp_path: Path,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    quiet: None,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_toml(sandbox.url))
    shared = tmp_path / "metrics"
    if holding is not None:
        shared.mkdir()
        (shared / holding).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    assert cli.main(["serve", "--config", str(path), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("localhost", "http://localhost:8000"),
        ("::1", "http://[::1]:8000"),  # printed bare, curl and browsers refused it
    ],
)
def test_printed_urls_bracket_an_ipv6_host(host: str, url: str) -> None:
    assert http_url(host, 8000) == url
    assert httpx.URL(url).port == 8000
