"""The `gateway` command: serve, sandbox, schema, check-config."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import math
import os
import signal
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

import uvicorn
from graphql import print_schema
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from gateway.app import create_app
from gateway.cache.redis_store import check_url_options
from gateway.config import (
    MAX_WORKERS,
    Settings,
    load_settings,
    parse_settings,
    read_config,
    settings_from_text,
    valid_host,
)
from gateway.errors import ConfigError
from gateway.graph.schema import build_schema
from gateway.logs import configure_logging
from gateway.metrics import MULTIPROCESS_ENV
from gateway.persisted import load_manifest
from gateway.sockets import bind, http_url
from gateway.tracing import check_exporter

DEMO_KEY = "sandbox-demo-key"
# Allocations between young collections; young collections per middle one; middle per old
# (tune_gc says why these).
GC_THRESHOLDS = (50_000, 5, 2)
DEMO_QUERY = """# The analytics gateway over its sandbox: simulated Zylon and Make upstreams.
# Press the run button. The demo key is already in the Headers tab below.
query Dashboard {
  organization(id: "aurora") {
    name
    usage {
      workspace { projects threads interactions agentFlows }
      automation { executions operations centicredits errors errorRate operationsChange }
    }
    activeUsers(limit: 5) { interactionsCreated agentFlowsCreated user { name email } }
    scenarios(first: 5, orderBy: { field: OPERATIONS, direction: DESC }) {
      totalCount
      nodes { name status team { name } metrics { operations errors errorRate } }
      pageInfo { hasNextPage endCursor }
    }
    interactions: timeSeries(metric: INTERACTIONS) { points { date value } }
  }
}
"""
CONFIG_ENV = "GATEWAY_CONFIG"
# For `--workers N`: the config the master validated, for the workers (_worker_config):
# its path, and its text in pieces, each well under what one environment string may hold.
_WORKER_CONFIG_ENV = "GATEWAY_WORKER_CONFIG"
_WORKER_PIECE_CHARS = 16_384
# For `--workers N` with --sandbox: what GraphiQL starts with (the demo key, a query).
_GRAPHIQL_ENV = "GATEWAY_GRAPHIQL_DEFAULTS"
# Past a request's deadline, a draining server stops waiting for what is in flight.
SHUTDOWN_SLACK_S = 2.0


def check_deployable(settings: Settings) -> None:
    """What `create_app` would refuse beyond the file itself (the trusted documents'
    manifest, the span exporter), or run without (a Redis URL whose options the
    client refuses), found before any worker starts: a worker that fails to build
    its app is restarted by uvicorn, forever."""
    if not settings.organizations or not settings.clients:
        # Every request would be refused, or answered with nothing.
        raise ConfigError("the config needs at least one [[organizations]] and one [[clients]]")
    if settings.graphql.trusted_documents is not None:
        load_manifest(settings.graphql.trusted_documents)
    check_exporter(settings.telemetry)
    if settings.cache.backend == "redis":
        check_url_options(settings.cache)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 0 to 65535, got {port}")
    return port


def _host(text: str) -> str:
    if not valid_host(text):
        raise argparse.ArgumentTypeError(f"neither a host name nor an IP address: {text!r}")
    return text


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"1..{MAX_WORKERS} workers, got {workers}")
    return workers


def app_factory() -> Starlette:
    """For `--workers N`: each worker process builds its app from the config the master
    validated (`_worker_config`).

    One that cannot (a trusted documents' manifest broken since) says why in one line and
    exits as uvicorn's failed start-up: uvicorn then stops the server, which it would
    otherwise restart the worker for, without end.
    """
    _configure_logging()
    path, text = _worker_config_given()
    defaults = json.loads(os.environ.get(_GRAPHIQL_ENV) or "{}")
    try:
        app = create_app(
            settings_from_text(text, path),
            graphiql_headers=defaults.get("headers"),
            graphiql_query=defaults.get("query"),
        )
    except ConfigError as exc:
        logging.getLogger(__name__).error("worker not started: configuration error: %s", exc)
        sys.exit(STARTUP_FAILURE)
    tune_gc()
    return app


@contextlib.contextmanager
def _worker_config(text: str, path: str) -> Iterator[None]:
    """The config text the master validated, in the environment the workers inherit.

    Every worker builds its app from it, the replacement of one that died too, and never
    from the config file, which may have been edited since: the workers would then serve
    different configs, or a broken one be restarted forever. Not a file of its own
    either, which a cleaner of /tmp could remove under a server running for weeks.
    `${NAME}` references are substituted in each worker; relative paths are read
    beside `path`.
    """
    pieces = [text[i : i + _WORKER_PIECE_CHARS] for i in range(0, len(text), _WORKER_PIECE_CHARS)]
    names = [f"{_WORKER_CONFIG_ENV}_{i}" for i in range(len(pieces))]
    os.environ.update(zip(names, pieces, strict=True))
    os.environ[_WORKER_CONFIG_ENV] = json.dumps({"path": path, "pieces": len(pieces)})
    try:
        yield
    finally:
        for name in (_WORKER_CONFIG_ENV, *names):
            del os.environ[name]


def _worker_config_given() -> tuple[str, str]:
    given = json.loads(os.environ[_WORKER_CONFIG_ENV])
    pieces = (os.environ[f"{_WORKER_CONFIG_ENV}_{i}"] for i in range(given["pieces"]))
    return given["path"], "".join(pieces)


def _supervise(config: uvicorn.Config) -> bool:
    """Runs the workers as `uvicorn.run` does; True when a signal stopped them, False
    when uvicorn's supervisor stopped on its own, on a worker that could not start
    (`uvicorn.run` exits 0 then)."""
    sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    signalled: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(number)
        assert callable(handler)  # the supervisor's own

        def noted(sig: int, frame: FrameType | None, handler: Callable[..., Any] = handler) -> None:
            signalled.append(sig)
            handler(sig, frame)

        signal.signal(number, noted)
    try:
        supervisor.run()
    except KeyboardInterrupt:
        signalled.append(signal.SIGINT)
    finally:
        sock.close()
    return bool(signalled)


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a serving process.

    An operation allocates thousands of short-lived objects and, under load,
    keeps them across many default-sized (700) young collections, so they are
    promoted and the old generation is scanned again and again, with the schema
    and every module in it. Freezing what exists once the app is built takes
    those out of every scan; a larger young generation lets an operation's
    objects die young; older generations collected a little more often than
    by default free promoted cyclic garbage sooner. `bench/cpu.py --gc default`
    against `--gc serve`: collection time per cold dashboard 1.7 ms -> 0.6 ms,
    CPU 10.2 -> 9.0 ms; peak RSS after a bench-like load 161 -> 172 MB (186 MB
    with the default ratios for the older generations).

    Why 50,000 and not 20,000: a young collection mostly scans live objects, the
    state of the requests in flight (coroutines, frames, futures) and new cache
    entries, and finds little garbage (about 9 objects a dashboard). With 64
    dashboards in flight, 20,000 meant a young collection every 120 dashboards or
    so, 25-32 ms each: 0.39 ms of collection a cold dashboard, 11% of its CPU;
    50,000 takes 0.10 ms, in collections of 60-70 ms every 700-1,000 dashboards, for
    6 MB more peak RSS (119 -> 125 MB after 6,000 dashboards; bench/RESULTS.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _configure_logging() -> None:
    configure_logging(os.environ.get("GATEWAY_LOG_LEVEL", "INFO").upper())


@contextlib.contextmanager
def _shared_metrics() -> Iterator[None]:
    """A new, empty directory where the workers keep their metrics, so that a scrape,
    whichever worker answers it, sees them all (gateway.metrics); removed at the end.
    One given in PROMETHEUS_MULTIPROC_DIR is used instead, and kept: it must be empty
    at start and belong to this server alone."""
    if os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="gateway-metrics-") as directory:
        os.environ[MULTIPROCESS_ENV] = directory  # the workers, started after, inherit it
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_ENV]


def _check_listen(host: str, port: int) -> None:
    """Refuse at once, in one line, a port another server holds: before any banner, and
    not as uvicorn's log lines after start-up."""
    try:
        bind(host, port).close()
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _serve(
    settings: Settings,
    *,
    config_text: str,
    config_path: str | None,
    host: str,
    port: int,
    workers: int,
    graphiql_headers: dict[str, str] | None = None,
    graphiql_query: str | None = None,
) -> None:
    check_deployable(settings)
    _check_listen(host, port)
    shared = os.environ.get(MULTIPROCESS_ENV)
    if shared and not os.path.isdir(shared):
        raise ConfigError(f"{MULTIPROCESS_ENV} must name a directory: {shared!r} is not one")
    if shared and any(name.endswith(".db") for name in os.listdir(shared)):
        # Another server's values, or a crashed one's: they would be summed with ours.
        raise ConfigError(f"{MULTIPROCESS_ENV} must name an empty directory: {shared!r} is not")
    # A request in flight at SIGTERM may run to its deadline, and no longer.
    drain_s = math.ceil(settings.limits.request_deadline_s + SHUTDOWN_SLACK_S)
    if workers > 1:
        if graphiql_headers or graphiql_query:
            defaults = {"headers": graphiql_headers, "query": graphiql_query}
            os.environ[_GRAPHIQL_ENV] = json.dumps(defaults)
        config = uvicorn.Config(
            "gateway.cli:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,  # our handlers: JSON lines, credentials blanked
            access_log=False,
            timeout_graceful_shutdown=drain_s,
            timeout_keep_alive=settings.server.keep_alive_s,
        )
        with _worker_config(config_text, config_path or "gateway.toml"), _shared_metrics():
            if not _supervise(config):
                raise ConfigError("a worker could not start (the log says why); the server stopped")
        return
    app = create_app(settings, graphiql_headers=graphiql_headers, graphiql_query=graphiql_query)
    tune_gc()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=drain_s,
        timeout_keep_alive=settings.server.keep_alive_s,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.sandbox and args.config:
        print("gateway serve: --sandbox makes its own config; leave out --config", file=sys.stderr)
        return 2
    if args.port == 0:
        print(
            "gateway serve: --port 0 would pick a port at random that no caller learns; name one",
            file=sys.stderr,
        )
        return 2
    if args.sandbox:
        return _serve_sandbox(args)
    path = args.config or os.environ.get(CONFIG_ENV)
    if not path:
        print(
            "gateway serve: pass --config PATH (or set GATEWAY_CONFIG), or use --sandbox",
            file=sys.stderr,
        )
        return 2
    text = read_config(path)  # once: the workers build their apps from this text too
    settings = settings_from_text(text, path)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    workers = args.workers or settings.server.workers
    _serve(settings, config_text=text, config_path=path, host=host, port=port, workers=workers)
    return 0


def _serve_sandbox(args: argparse.Namespace) -> int:
    from gateway.sandbox.server import SandboxServer, config_toml

    host = args.host or "127.0.0.1"
    port = args.port if args.port is not None else 8000
    _check_listen(host, port)  # before the banner, which would point at another server
    with SandboxServer() as sandbox:
        text = config_toml(sandbox.url, api_key=DEMO_KEY)
        settings = parse_settings(tomllib.loads(text), env={})
        url = f"{http_url(host, port)}/graphql"
        print(f"Sandbox upstreams (simulated Zylon and Make) at {sandbox.url}")
        print(f"GraphiQL:      {url}")
        print(f"Demo API key:  {DEMO_KEY}   (send it as 'Authorization: Bearer {DEMO_KEY}')")
        print(
            f"Try: curl -s {url} -H 'Authorization: Bearer {DEMO_KEY}' "
            "-H 'Content-Type: application/json' "
            '-d \'{"query":"{ organizations { id name } }"}\'',
            flush=True,
        )
        _serve(
            settings,
            config_text=text,
            config_path=None,
            host=host,
            port=port,
            workers=args.workers or 1,
            graphiql_headers={"Authorization": f"Bearer {DEMO_KEY}"},
            graphiql_query=DEMO_QUERY,
        )
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from gateway.sandbox.server import run_sandbox

    _check_listen(args.host, args.port)
    tune_gc()  # a serving process too: each answer over new days allocates a listing
    run_sandbox(host=args.host, port=args.port)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    schema = build_schema()
    text = schema.as_str() if args.federation else print_schema(schema._schema)
    sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.path)
    check_deployable(settings)
    print(
        f"{args.path}: ok ({len(settings.organizations)} organizations, "
        f"{len(settings.clients)} clients, cache {settings.cache.backend})"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description=__doc__,
        epilog="environment: GATEWAY_CONFIG (the config `serve` reads without --config), "
        "GATEWAY_LOG_LEVEL (DEBUG, INFO, WARNING or ERROR; default INFO)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the graph")
    serve.add_argument("--config", help="TOML config file (default: $GATEWAY_CONFIG)")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="serve over built-in simulated upstreams; no config needed",
    )
    serve.add_argument(
        "--host", type=_host, help="listen here (overrides [server] host; default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_port, help="listen on this port (overrides [server] port; default 8000)"
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        help=f"worker processes, 1..{MAX_WORKERS} (overrides [server] workers; default 1)",
    )
    serve.set_defaults(run=_cmd_serve)

    sandbox = commands.add_parser(
        "sandbox",
        help="run only the simulated Zylon and Make",
        description="Run only the simulated Zylon and Make upstreams. Prints a gateway "
        "config that points at them, then serves until stopped.",
    )
    sandbox.add_argument("--host", type=_host, default="127.0.0.1", help="default 127.0.0.1")
    sandbox.add_argument("--port", type=_port, default=8001, help="default 8001")
    sandbox.set_defaults(run=_cmd_sandbox)

    schema = commands.add_parser("schema", help="print the served SDL")
    schema.add_argument("--federation", action="store_true", help="print the subgraph SDL")
    schema.set_defaults(run=_cmd_schema)

    check = commands.add_parser(
        "check-config",
        help="validate a config file",
        description="Validate a config file as `serve` reads it: with the same environment "
        "variables for its ${NAME} references.",
    )
    check.add_argument("path", help="the TOML config file")
    check.set_defaults(run=_cmd_check_config)
    return parser


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM: uvicorn shuts down gracefully, then raises it again, landing here.

    Exiting through SystemExit runs every `finally` (the embedded sandbox stops,
    temporary files go) instead of dying on the signal.
    """
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    serving = args.command in ("serve", "sandbox")
    previous = None
    if serving and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130  # Ctrl-C: stopped as asked, no traceback
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"gateway: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:  # called as a function (a test): leave the caller's handler
            signal.signal(signal.SIGTERM, previous)
    return code


if __name__ == "__main__":
    sys.exit(main())
