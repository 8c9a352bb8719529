"""Frozen settings parsed from the TOML file of the contract.

No module-level instance: `load_settings(path)` or `parse_settings(mapping)`
build one, `create_app(settings)` takes it. Secrets are `Secret`s, whose `str`
and `repr` never show the value.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import idna

from gateway.errors import ConfigError


class Secret:
    """A string that never prints itself; `.reveal()` is the one way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # When set, /metrics answers only `Authorization: Bearer <token>`: its labels name every
    # organization and the state of its upstreams.
    metrics_token: Secret | None = None
    # An idle client connection is closed after this long. Longer than the idle timeout of
    # the proxies in front (AWS ALB 60 s, nginx 60 s), so that the proxy, never the gateway,
    # closes first: a request sent as the gateway closes is reset, and the proxy answers 502.
    keep_alive_s: int = 65
    # Browser origins whose pages may call /graphql (CORS), or ("*",) for any; none by
    # default, and then a browser lets only pages the gateway serves itself call it.
    cors_origins: tuple[str, ...] = ()
    # Gzip for answers of 1 KiB or more to clients that accept it (gateway.compression).
    # Off behind a proxy that compresses by itself.
    compression: bool = True
    # GraphQL operations one worker runs at once (a request counts once its body is in);
    # past it, 503 OVERLOADED with `Retry-After`, before the body is read (0: no cap).
    # Every request in flight waits on the others' CPU and holds its memory: a worker far
    # past what it can serve answers nobody in time, and a balancer told so sends the
    # excess to another replica.
    max_in_flight: int = 1000


@dataclass(frozen=True, slots=True)
class CacheSettings:
    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    default_ttl_s: float = 60.0
    # TTL per resource kind ("zylon_totals", "zylon_ranking", "zylon_series",
    # "make_page", "make_day"); a kind not listed takes default_ttl_s.
    ttl_s: dict[str, float] = field(default_factory=dict)
    # Make day buckets of days that are over: they no longer change.
    past_day_ttl_s: float = 86400.0
    # How long past its TTL an entry may still be served while one refresh runs.
    stale_s: float = 300.0
    # Memory backend: entries, and what they take by estimate (cache.store.estimated_bytes:
    # 1 KB an entry, 512 bytes a row and 4 a character of its strings, so a full Make
    # scenario list of 130 scenarios about 84 KB, of 10,000 about 6.5 MB). Least recently
    # used out first.
    max_entries: int = 5_000
    max_bytes: int = 64 * 1024 * 1024
    # Redis only: how long a replica fetching a missing entry holds the others
    # off (they wait for its value, then fetch themselves), and the socket
    # timeout of every Redis call (an outage degrades to cache misses).
    # Whole responses per caller and request kept in process memory (0: none).
    response_entries: int = 2048
    response_max_bytes: int = 64 * 1024 * 1024  # their bodies together
    # How long past stale_s an expired entry is kept to answer an upstream failure.
    stale_if_error_s: float = 3600.0
    lock_timeout_s: float = 10.0
    redis_timeout_s: float = 0.5


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    max_retries: int = 2
    retry_base_delay_s: float = 0.2
    retry_max_delay_s: float = 4.0
    max_connections: int = 100
    max_response_bytes: int = 16 * 1024 * 1024
    # Per upstream and organization: calls in flight, and how long one waits for a slot.
    # As many as the pool has connections: at 20, an upstream answering in 50 ms
    # capped an organization at 400 calls a second, and the waits cost CPU of their
    # own (bench/RESULTS.md). The vendors bound requests per minute (429), not calls
    # in flight.
    max_concurrent: int = 100
    concurrency_wait_s: float = 5.0
    # Retries stay within retry_budget_ratio of the requests over the window
    # (plus retry_budget_min retries always allowed per window).
    retry_budget_ratio: float = 0.2
    retry_budget_min: int = 3
    retry_budget_window_s: float = 10.0
    # The circuit opens after breaker_failures consecutive failures, or a failure
    # ratio over breaker_window_s (once breaker_min_calls calls were seen); after
    # breaker_cooldown_s, breaker_half_open_probes calls may test the upstream.
    breaker_failures: int = 5
    breaker_failure_ratio: float = 0.5
    breaker_min_calls: int = 20
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 10.0
    breaker_half_open_probes: int = 1
    # An HTTP proxy every call goes through (CONNECT for https), as a network whose way out
    # is a proxy needs; it may carry the proxy's credentials. The environment's
    # HTTPS_PROXY is not read: `proxy_url = "${HTTPS_PROXY}"` reads it.
    proxy_url: Secret | None = None


@dataclass(frozen=True, slots=True)
class UpstreamsSettings:
    zylon: UpstreamSettings = field(default_factory=UpstreamSettings)
    make: UpstreamSettings = field(default_factory=UpstreamSettings)


@dataclass(frozen=True, slots=True)
class ZylonLink:
    base_url: str
    org_slug: str
    token: Secret


@dataclass(frozen=True, slots=True)
class MakeLink:
    base_url: str  # the zone's API root, e.g. https://eu1.make.com/api/v2
    organization_id: int
    token: Secret
    zone: str | None = None  # derived from base_url's host when not given


@dataclass(frozen=True, slots=True)
class OrganizationSettings:
    id: str
    name: str
    zylon: ZylonLink | None = None
    make: MakeLink | None = None


@dataclass(frozen=True, slots=True)
class ClientSettings:
    name: str
    api_key: Secret
    organizations: tuple[str, ...]  # ("*",) for all
    # Requests a second this client may send, in bursts of up to `burst` (gateway.rate_limits);
    # None: no limit. `burst` defaults to one second's worth.
    requests_per_s: float | None = None
    burst: int = 1

    def may_read(self, organization_id: str) -> bool:
        return "*" in self.organizations or organization_id in self.organizations


# A page of `first: N` asks Make for up to N + 101 entries (a keyset page reads past its
# anchor, gateway.loaders.pagination), and Make's largest page is 10,000.
MAX_PAGE_SIZE = 9_899


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    max_page_size: int = 100
    max_series_days: int = 92  # Make series cost one call per day
    # The distinct requests of a team's metrics and scenarios asked for several teams
    # (under `teams`, `_entities`, a page of scenarios): each costs a Make call per team,
    # which aliases would multiply (over a `teams(range:)` list's own range, its one
    # call serves them all).
    max_team_variants: int = 4
    max_range_days: int = 366
    max_depth: int = 12
    max_aliases: int = 30
    max_selection_fields: int = 50
    max_fields: int = 1000
    max_fragment_spreads: int = 50
    max_representations: int = 1000  # over the operation's `_entities` fields
    max_tokens: int = 2000
    max_document_bytes: int = 20_000
    max_cost: int = 20_000
    max_body_bytes: int = 1_000_000
    # No GraphQL request outlives this: upstream calls, retries and back-off included.
    request_deadline_s: float = 10.0


@dataclass(frozen=True, slots=True)
class GraphQLSettings:
    introspection: bool = True
    graphiql: bool = True
    field_suggestions: bool = True
    # Apollo's automatic persisted queries, kept this long after their registration.
    persisted_queries: bool = True
    persisted_query_ttl_s: float = 86400.0
    # With the memory cache, registered documents have a store of their own, this large:
    # registering thousands must not evict the upstream answers other clients are served.
    persisted_query_max_entries: int = 1000
    # A manifest of trusted documents: when set, only the operations it lists run.
    trusted_documents: str | None = None
    # Operations one POST may hold as a JSON array (gateway.batches); 0: arrays refused.
    max_batch_operations: int = 0


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """OpenTelemetry tracing; off unless enabled. "otlp" takes its endpoint from the
    standard OTEL_EXPORTER_OTLP_* environment variables."""

    enabled: bool = False
    service_name: str = "analytics-gateway"
    exporter: Literal["otlp", "console", "none"] = "otlp"


@dataclass(frozen=True, slots=True)
class Settings:
    organizations: tuple[OrganizationSettings, ...]
    clients: tuple[ClientSettings, ...]
    server: ServerSettings = field(default_factory=ServerSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    upstreams: UpstreamsSettings = field(default_factory=UpstreamsSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    graphql: GraphQLSettings = field(default_factory=GraphQLSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    # Signs pagination cursors; the same on every replica. When not configured
    # it is derived from the configured secrets (see `cursor_key`).
    cursor_secret: Secret | None = None

    def organization(self, organization_id: str) -> OrganizationSettings | None:
        for org in self.organizations:
            if org.id == organization_id:
                return org
        return None

    def cursor_key(self) -> bytes:
        """The key that signs cursors: the same on every replica with this config.

        Without a configured `cursor_secret` it is derived from every configured
        token and api key, so it stays secret as long as they do, and changes
        (invalidating old cursors) when one of them is rotated.
        """
        if self.cursor_secret is not None:
            return self.cursor_secret.reveal().encode()
        parts: list[tuple[str, str, str]] = []
        for org in self.organizations:
            if org.zylon is not None:
                parts.append(("zylon", org.id, org.zylon.token.reveal()))
            if org.make is not None:
                parts.append(("make", org.id, org.make.token.reveal()))
        parts.extend(("client", c.name, c.api_key.reveal()) for c in self.clients)
        digest = hashlib.sha256(b"analytics-gateway/cursor-key/v1\0")
        for part in sorted(parts):
            for item in part:
                data = item.encode()
                digest.update(len(data).to_bytes(8, "big") + data)
        return digest.digest()

    def cache_signing_key(self) -> bytes:
        """The key that seals Redis cache values, derived from `cursor_key`: the same
        on every replica with this config, and apart from the cursors' own."""
        return hmac.new(self.cursor_key(), b"analytics-gateway/cache-values/v1", "sha256").digest()


# --- parsing -----------------------------------------------------------------

# The resource kinds that `[cache.ttl_s]` may name.
CACHE_KINDS = frozenset({"zylon_totals", "zylon_ranking", "zylon_series", "make_page", "make_day"})

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
# As long as the other secrets: a short key is a guessable one.
API_KEY_MIN_LENGTH = 16
# The bound of every duration and ratio: ten years.
MAX_SECONDS = 10 * 365 * 86_400
# Processes of one server: more than any machine this runs on has cores for.
MAX_WORKERS = 256
_T = TypeVar("_T")


def load_settings(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the TOML file at `path`; `env` defaults to `os.environ`."""
    return settings_from_text(read_config(path), path, env)


def read_config(path: str | os.PathLike[str]) -> str:
    """The text of the config file at `path`."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{os.fspath(path)}: cannot read the config file ({exc})") from None


def settings_from_text(
    text: str, path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> Settings:
    """Validate the text of the config file at `path` (what relative paths in it are
    relative to), as read before: `load_settings` without reading the file again."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{os.fspath(path)}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{os.fspath(path)}: not valid TOML: nested too deeply") from None
    settings = parse_settings(data, env)
    manifest = settings.graphql.trusted_documents
    if manifest and not os.path.isabs(manifest):
        # Beside the config file, wherever the server was started from (a container's
        # working directory is `/`).
        manifest = os.fspath(Path(path).parent / manifest)
        settings = replace(settings, graphql=replace(settings.graphql, trusted_documents=manifest))
    return settings


def parse_settings(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Validate an already parsed TOML document; `env` defaults to `os.environ`.

    Every error is a `ConfigError` whose message starts with the dotted key path
    and never contains the value of a token, api key, secret or URL.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("config: expected a table")
    from_env: set[str] = set()
    root = _Table(_substitute(data, "", os.environ if env is None else env, from_env), "", from_env)
    server = _server(root.table("server"))
    cache = _cache(root.table("cache"))
    upstreams = _upstreams(root.table("upstreams"))
    organizations = _organizations(root.array_of_tables("organizations"))
    clients = _clients(root.array_of_tables("clients"), organizations)
    limits = _limits(root.table("limits"))
    graphql = _graphql(root.table("graphql"))
    if graphql.max_batch_operations > server.max_in_flight > 0:
        raise ConfigError(
            f"graphql.max_batch_operations: {graphql.max_batch_operations} is over "
            f"server.max_in_flight ({server.max_in_flight}): such a batch could never run"
        )
    telemetry = _telemetry(root.table("telemetry"))
    security = root.table("security")
    cursor_secret = security.secret("cursor_secret", required=False, min_length=16, header=False)
    security.done()
    root.done()
    return Settings(
        organizations=organizations,
        clients=clients,
        server=server,
        cache=cache,
        upstreams=upstreams,
        limits=limits,
        graphql=graphql,
        telemetry=telemetry,
        cursor_secret=cursor_secret,
    )


def make_zone(base_url: str) -> str | None:
    """The Make zone of an API root: `https://eu1.make.com/api/v2` → "eu1".

    The Celonis-hosted zones name their zone the same way
    (`https://us1.make.celonis.com/api/v2` → "us1"). Any other host (a proxy,
    the sandbox) has no known zone: None.
    """
    host = (urlsplit(base_url).hostname or "").lower()
    for suffix in (".make.com", ".make.celonis.com"):
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            if label and "." not in label:
                return label
    return None


def _substitute(value: Any, path: str, env: Mapping[str, str], from_env: set[str]) -> Any:
    """`value` with each `${NAME}` replaced; the path of each string that had one is
    added to `from_env`, whose values an error never quotes."""
    if isinstance(value, str):
        if "${" in value:
            from_env.add(path)
        return _substitute_string(value, path, env)
    if isinstance(value, Mapping):
        return {k: _substitute(v, _join(path, str(k)), env, from_env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{path}[{i}]", env, from_env) for i, v in enumerate(value)]
    return value


def _substitute_string(value: str, path: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    pos = 0
    while (start := value.find("${", pos)) >= 0:
        match = _ENV_REF.match(value, start)
        if match is None:
            raise ConfigError(f"{path}: malformed environment reference; write ${{NAME}}")
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"{path}: environment variable {name} is not set")
        out.append(value[pos:start])
        out.append(env[name])
        pos = match.end()
    out.append(value[pos:])
    return "".join(out)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Table:
    """One TOML table being read: each key is taken once, the rest are unknown."""

    def __init__(self, data: Mapping[str, Any], path: str, from_env: set[str]) -> None:
        self._data = dict(data)
        self._path = path
        self._from_env = from_env

    def path(self, key: str) -> str:
        return _join(self._path, key)

    def quoted(self, path: str, value: str) -> str:
        """`value` as an error quotes it: not at all where the environment gave it, as
        it may be a secret substituted into the wrong key."""
        return "(from the environment, not shown)" if path in self._from_env else repr(value)

    def has(self, key: str) -> bool:
        return key in self._data

    def done(self) -> None:
        for key in self._data:
            raise ConfigError(f"{self.path(key)}: unknown key")

    def _take(self, key: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = self._data.pop(key)
        if not check(value):
            raise ConfigError(f"{self.path(key)}: expected {expected}, got {_type_name(value)}")
        return value

    def table(self, key: str) -> _Table:
        if key not in self._data:
            return _Table({}, self.path(key), self._from_env)
        return _Table(self._take(key, _is_table, "a table"), self.path(key), self._from_env)

    def array_of_tables(self, key: str) -> list[_Table]:
        if key not in self._data:
            return []
        items = self._take(key, lambda v: isinstance(v, list), "an array of tables")
        tables = []
        for i, item in enumerate(items):
            item_path = f"{self.path(key)}[{i}]"
            if not _is_table(item):
                raise ConfigError(f"{item_path}: expected a table, got {_type_name(item)}")
            tables.append(_Table(item, item_path, self._from_env))
        return tables

    def string(self, key: str, default: _T, *, non_empty: bool = True) -> str | _T:
        if key not in self._data:
            return default
        value: str = self._take(key, lambda v: isinstance(v, str), "a string")
        if non_empty and not value.strip():
            raise ConfigError(f"{self.path(key)}: must not be empty")
        return value

    def required_string(self, key: str) -> str:
        value = self.string(key, None)
        if value is None:
            raise ConfigError(f"{self.path(key)}: required")
        return value

    def secret(
        self, key: str, *, required: bool, min_length: int = 1, header: bool = True
    ) -> Secret | None:
        """`header`: it travels in an HTTP header, so it is visible ASCII: a line break
        there fails every call at run time; surrounding spaces are stripped from a
        header, and other characters arrive as bytes the client chose to encode them
        as, so such a key could never be matched."""
        if key not in self._data:
            if required:
                raise ConfigError(f"{self.path(key)}: required")
            return None
        value: str = self._take(key, lambda v: isinstance(v, str), "a string")
        if len(value.strip()) < min_length:
            need = "must not be empty" if min_length == 1 else f"needs {min_length}+ characters"
            raise ConfigError(f"{self.path(key)}: {need}")
        if not value.isprintable():
            raise ConfigError(f"{self.path(key)}: must not contain control characters")
        if header:
            self._check_header(key, value)
        return Secret(value)

    def header_string(self, key: str) -> str:
        """A required string sent in an HTTP header (Zylon's `x-org`)."""
        value = self.required_string(key)
        self._check_header(key, value)
        return value

    def _check_header(self, key: str, value: str) -> None:
        if not _VISIBLE_ASCII.fullmatch(value):
            raise ConfigError(
                f"{self.path(key)}: it is sent in an HTTP header, so it must be visible ASCII "
                "characters only, without spaces"
            )

    def integer(self, key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        if key not in self._data:
            return default
        value: int = self._take(key, _is_int, "an integer")
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"{minimum}..{maximum}"
            raise ConfigError(f"{self.path(key)}: must be {bounds}, got {value}")
        return value

    def number(self, key: str, default: float, *, positive: bool) -> float:
        if key not in self._data:
            return default
        value = float(self._take(key, _is_number, "a number"))
        return self._check_number(key, value, positive=positive)

    def _check_number(self, key: str, value: float, *, positive: bool) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{self.path(key)}: must be a finite number")
        if value > MAX_SECONDS:  # Redis refuses an expiry past 2**63 ms; nothing waits a decade
            raise ConfigError(f"{self.path(key)}: must be at most {MAX_SECONDS} (ten years)")
        if positive and value <= 0:
            raise ConfigError(f"{self.path(key)}: must be greater than 0, got {value:g}")
        if value < 0:
            raise ConfigError(f"{self.path(key)}: must not be negative, got {value:g}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self._data:
            return default
        value: bool = self._take(key, lambda v: isinstance(v, bool), "true or false")
        return value

    def url(self, key: str, *, schemes: tuple[str, ...]) -> str:
        value = self.required_string(key)
        _check_url(self.path(key), value, schemes)
        return value.rstrip("/")


def _check_url(path: str, value: str, schemes: tuple[str, ...], *, proxy: bool = False) -> None:
    """`proxy`: a proxy's address, which may carry its credentials and has no path.
    The value is never echoed: a URL may carry a password."""
    allowed = " or ".join(f"{s}://" for s in schemes)
    try:
        parts = urlsplit(value.strip())
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{path}: not a valid URL") from None
    if parts.scheme not in schemes:
        raise ConfigError(f"{path}: must be a URL starting with {allowed}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigError(f"{path}: a unix:// URL needs a socket path")
        return
    if not parts.hostname:
        raise ConfigError(f"{path}: the URL has no host")
    if value != value.strip():
        raise ConfigError(f"{path}: the URL has surrounding whitespace")
    # Checked here, or found only at the first call (every one then a "connection
    # failed"), or at start-up as a traceback naming no key.
    if not valid_host(parts.hostname):
        raise ConfigError(f"{path}: the URL's host is neither a host name nor an IP address")
    if parts.port == 0:
        raise ConfigError(f"{path}: the URL's port must be 1 to 65535")
    if any(not c.isprintable() or c.isspace() for c in value):
        raise ConfigError(f"{path}: the URL holds a space or a control character")
    if proxy and (parts.query or parts.fragment or parts.path not in ("", "/")):
        raise ConfigError(f"{path}: a proxy's URL is its scheme, host and port (no path)")
    if schemes == ("http", "https"):
        if not proxy and (parts.query or parts.fragment or parts.username):
            raise ConfigError(f"{path}: a base URL takes no credentials, query or fragment")
        try:
            httpx.URL(value)
        except httpx.InvalidURL:
            raise ConfigError(f"{path}: not a valid URL") from None


def valid_host(host: str) -> bool:
    """An IP address, or dot-separated labels of letters, digits, `-` (not at either end)
    and `_`, the last not numeric (`1.2.3.4.5` and `0x7f.1` are no addresses here)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    for label in labels:
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isalnum() or c in "-_" for c in label):
            return False
    last = labels[-1].lower()
    return not (last.isdigit() or last.startswith("0x"))


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def _server(t: _Table) -> ServerSettings:
    d = ServerSettings()
    host = t.string("host", d.host)
    if not valid_host(host):
        # Else found by `serve` alone, as an error naming no key.
        raise ConfigError(f"{t.path('host')}: neither a host name nor an IP address")
    # Port 0 would listen on a port picked at random that no caller learns.
    port = t.integer("port", d.port, minimum=1, maximum=65535)
    workers = t.integer("workers", d.workers, minimum=1, maximum=MAX_WORKERS)
    keep_alive_s = t.integer("keep_alive_s", d.keep_alive_s, minimum=1, maximum=3600)
    metrics_token = t.secret("metrics_token", required=False, min_length=16)
    cors_origins = _cors_origins(t) if t.has("cors_origins") else d.cors_origins
    compression = t.boolean("compression", d.compression)
    max_in_flight = t.integer("max_in_flight", d.max_in_flight, minimum=0, maximum=1_000_000)
    t.done()
    return ServerSettings(
        host=host,
        port=port,
        workers=workers,
        metrics_token=metrics_token,
        keep_alive_s=keep_alive_s,
        cors_origins=cors_origins,
        compression=compression,
        max_in_flight=max_in_flight,
    )


def _cors_origins(t: _Table) -> tuple[str, ...]:
    """Each as a browser sends it in `Origin`: scheme, host and port only, in lower case."""
    path = t.path("cors_origins")
    values = t._take("cors_origins", lambda v: isinstance(v, list), "an array of strings")
    origins: list[str] = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError(f"{path}[{i}]: expected a string, got {_type_name(value)}")
        if value == "*":
            origins.append(value)
            continue
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigError(
                f'{path}[{i}]: expected an origin such as "https://dash.example.com" '
                f'(scheme, host and port only), or "*"'
            )
        host = _origin_host(parts.hostname)
        if host is None:
            raise ConfigError(f"{path}[{i}]: its host is neither a host name nor an IP address")
        if port == DEFAULT_PORTS[parts.scheme]:  # a browser leaves the scheme's port out
            port = None
        origins.append(f"{parts.scheme}://{host}" + (f":{port}" if port is not None else ""))
    if "*" in origins and len(origins) > 1:
        raise ConfigError(f'{path}: "*" allows every origin; list no other beside it')
    return tuple(dict.fromkeys(origins))


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_host(hostname: str) -> str | None:
    """The host as a browser writes it in `Origin`, or None where none would.

    An IPv6 address in its compressed form (`[::1]`, never `[0:0:0:0:0:0:0:1]`), and
    no scoped one; a name in lower case, a Unicode one as the URL standard's "domain to
    ASCII" writes it: UTS #46 mapping, not transitional, each other label Punycode, no
    hyphen rules and no joiners (Chromium's `new URL(...).origin`). Python's own codec
    is IDNA 2003, which turned `straße.de` into `strasse.de`, another domain; the
    `idna` package's own encode also applies IDNA 2008's stricter rules, refusing
    `☃.net`, which browsers send."""
    if ":" in hostname:  # urlsplit took it from brackets: an IPv6 address or nothing
        try:
            address = ipaddress.IPv6Address(hostname)
        except ValueError:
            return None
        return None if address.scope_id else f"[{address.compressed}]"
    if not hostname.isascii():
        try:
            mapped = idna.uts46_remap(hostname, std3_rules=False, transitional=False)
        except idna.IDNAError:
            return None
        if "\u200c" in mapped or "\u200d" in mapped:
            return None
        hostname = ".".join(
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
            for label in mapped.split(".")
        )
    host = hostname.lower()
    return host if valid_host(host) else None


def _cache(t: _Table) -> CacheSettings:
    d = CacheSettings()
    backend = t.string("backend", d.backend)
    if backend not in ("memory", "redis"):
        # Not echoed: after `${NAME}` substitution a value may be a secret in the wrong key.
        raise ConfigError(f'{t.path("backend")}: expected "memory" or "redis"')
    url: str | None = None
    if t.has("url"):
        url = t.url("url", schemes=("redis", "rediss", "unix"))
        parts = urlsplit(url)
        path, named_db = parts.path, "db" in parse_qs(parts.query)
        if parts.scheme != "unix" and path and not named_db and not re.fullmatch(r"/[0-9]+", path):
            # redis-py ignores such a path (`?db=` names the database if anything), and
            # reads and writes database 0 instead.
            raise ConfigError(f"{t.path('url')}: its path must be a database number, as /0")
    elif backend == "redis":
        raise ConfigError(f'{t.path("url")}: required when backend = "redis"')
    ttls: dict[str, float] = {}
    if t.has("ttl_s"):
        ttl_table = t.table("ttl_s")
        for kind in sorted(ttl_table._data):
            if kind not in CACHE_KINDS:
                known = ", ".join(sorted(CACHE_KINDS))
                raise ConfigError(f"{ttl_table.path(kind)}: unknown cache kind (known: {known})")
            ttls[kind] = ttl_table.number(kind, 0.0, positive=True)
        ttl_table.done()
    settings = CacheSettings(
        backend="redis" if backend == "redis" else "memory",
        url=url,
        default_ttl_s=t.number("default_ttl_s", d.default_ttl_s, positive=True),
        ttl_s=ttls,
        past_day_ttl_s=t.number("past_day_ttl_s", d.past_day_ttl_s, positive=True),
        stale_s=t.number("stale_s", d.stale_s, positive=False),
        max_entries=t.integer("max_entries", d.max_entries, minimum=1),
        max_bytes=t.integer("max_bytes", d.max_bytes, minimum=1024 * 1024),
        stale_if_error_s=t.number("stale_if_error_s", d.stale_if_error_s, positive=False),
        response_entries=t.integer("response_entries", d.response_entries, minimum=0),
        response_max_bytes=t.integer("response_max_bytes", d.response_max_bytes, minimum=0),
        lock_timeout_s=t.number("lock_timeout_s", d.lock_timeout_s, positive=True),
        redis_timeout_s=t.number("redis_timeout_s", d.redis_timeout_s, positive=True),
    )
    t.done()
    return settings


def _upstreams(t: _Table) -> UpstreamsSettings:
    settings = UpstreamsSettings(zylon=_upstream(t.table("zylon")), make=_upstream(t.table("make")))
    t.done()
    return settings


def _upstream(t: _Table) -> UpstreamSettings:
    d = UpstreamSettings()
    settings = UpstreamSettings(
        timeout_s=t.number("timeout_s", d.timeout_s, positive=True),
        connect_timeout_s=t.number("connect_timeout_s", d.connect_timeout_s, positive=True),
        max_retries=t.integer("max_retries", d.max_retries, minimum=0),
        retry_base_delay_s=t.number("retry_base_delay_s", d.retry_base_delay_s, positive=False),
        retry_max_delay_s=t.number("retry_max_delay_s", d.retry_max_delay_s, positive=False),
        max_connections=t.integer("max_connections", d.max_connections, minimum=1),
        max_response_bytes=t.integer("max_response_bytes", d.max_response_bytes, minimum=1),
        max_concurrent=t.integer("max_concurrent", d.max_concurrent, minimum=1),
        concurrency_wait_s=t.number("concurrency_wait_s", d.concurrency_wait_s, positive=True),
        retry_budget_ratio=t.number("retry_budget_ratio", d.retry_budget_ratio, positive=False),
        retry_budget_min=t.integer("retry_budget_min", d.retry_budget_min, minimum=0),
        retry_budget_window_s=t.number(
            "retry_budget_window_s", d.retry_budget_window_s, positive=True
        ),
        breaker_failures=t.integer("breaker_failures", d.breaker_failures, minimum=1),
        breaker_failure_ratio=t.number(
            "breaker_failure_ratio", d.breaker_failure_ratio, positive=True
        ),
        breaker_min_calls=t.integer("breaker_min_calls", d.breaker_min_calls, minimum=1),
        breaker_window_s=t.number("breaker_window_s", d.breaker_window_s, positive=True),
        breaker_cooldown_s=t.number("breaker_cooldown_s", d.breaker_cooldown_s, positive=True),
        breaker_half_open_probes=t.integer(
            "breaker_half_open_probes", d.breaker_half_open_probes, minimum=1
        ),
        proxy_url=_proxy_url(t),
    )
    t.done()
    for ratio in ("retry_budget_ratio", "breaker_failure_ratio"):
        if (value := getattr(settings, ratio)) > 1:
            raise ConfigError(f"{t.path(ratio)}: must be at most 1, got {value:g}")
    if settings.retry_max_delay_s < settings.retry_base_delay_s:
        raise ConfigError(
            f"{t.path('retry_max_delay_s')}: must be at least retry_base_delay_s "
            f"({settings.retry_base_delay_s:g})"
        )
    return settings


def _proxy_url(t: _Table) -> Secret | None:
    if not t.has("proxy_url"):
        return None
    value = t.required_string("proxy_url")
    _check_url(t.path("proxy_url"), value, ("http", "https"), proxy=True)
    return Secret(value)


def _organizations(tables: list[_Table]) -> tuple[OrganizationSettings, ...]:
    seen: dict[str, str] = {}
    organizations = []
    for t in tables:
        org_id = t.required_string("id")
        if org_id == "*":
            raise ConfigError(f'{t.path("id")}: "*" is reserved (it means all organizations)')
        if org_id in seen:
            shown = t.quoted(t.path("id"), org_id)
            raise ConfigError(f"{t.path('id')}: duplicate organization id {shown}")
        seen[org_id] = t.path("id")
        name = t.string("name", org_id)
        zylon = _zylon_link(t.table("zylon")) if t.has("zylon") else None
        make = _make_link(t.table("make")) if t.has("make") else None
        t.done()
        organizations.append(OrganizationSettings(id=org_id, name=name, zylon=zylon, make=make))
    return tuple(organizations)


def _zylon_link(t: _Table) -> ZylonLink:
    link = ZylonLink(
        base_url=t.url("base_url", schemes=("http", "https")),
        org_slug=t.header_string("org_slug"),
        token=_required_secret(t, "token"),
    )
    t.done()
    return link


def _make_link(t: _Table) -> MakeLink:
    base_url = t.url("base_url", schemes=("http", "https"))
    if not t.has("organization_id"):
        raise ConfigError(f"{t.path('organization_id')}: required")
    link = MakeLink(
        base_url=base_url,
        # The schema's makeOrganizationId is a GraphQL Int: 32 bits.
        organization_id=t.integer("organization_id", 0, minimum=1, maximum=2**31 - 1),
        token=_required_secret(t, "token"),
        zone=t.string("zone", make_zone(base_url)),
    )
    t.done()
    return link


def _required_secret(t: _Table, key: str) -> Secret:
    secret = t.secret(key, required=True)
    assert secret is not None
    return secret


def _clients(
    tables: list[_Table], organizations: tuple[OrganizationSettings, ...]
) -> tuple[ClientSettings, ...]:
    known = {org.id for org in organizations}
    names: set[str] = set()
    keys: dict[str, str] = {}
    clients = []
    for t in tables:
        name = t.required_string("name")
        if name in names:
            shown = t.quoted(t.path("name"), name)
            raise ConfigError(f"{t.path('name')}: duplicate client name {shown}")
        names.add(name)
        api_key = t.secret("api_key", required=True, min_length=API_KEY_MIN_LENGTH)
        assert api_key is not None
        if api_key.reveal() in keys:
            raise ConfigError(
                f"{t.path('api_key')}: the same api key as {keys[api_key.reveal()]}; "
                "every client needs its own"
            )
        keys[api_key.reveal()] = t.path("api_key")
        readable = _client_organizations(t, known)
        requests_per_s, burst = _client_rate(t)
        clients.append(ClientSettings(name, api_key, readable, requests_per_s, burst))
        t.done()
    return tuple(clients)


MAX_REQUESTS_PER_S = 1_000_000


def _client_rate(t: _Table) -> tuple[float | None, int]:
    if not t.has("requests_per_s"):
        if t.has("burst"):
            raise ConfigError(f"{t.path('burst')}: needs requests_per_s beside it")
        return None, 1
    path = t.path("requests_per_s")
    rate = float(t._take("requests_per_s", _is_number, "a number"))
    if not 0 < rate <= MAX_REQUESTS_PER_S:  # NaN included
        raise ConfigError(f"{path}: must be above 0 and at most {MAX_REQUESTS_PER_S}, got {rate!r}")
    burst = t.integer("burst", max(1, math.ceil(rate)), minimum=1, maximum=MAX_REQUESTS_PER_S)
    if burst / rate > MAX_SECONDS:
        # A count Redis could not keep (an expiry past its bound), and no limit anyone means.
        raise ConfigError(f"{path}: a burst of {burst} would take over ten years to come back")
    return rate, burst


def _client_organizations(t: _Table, known: set[str]) -> tuple[str, ...]:
    path = t.path("organizations")
    if not t.has("organizations"):
        raise ConfigError(f'{path}: required (a list of organization ids, or ["*"])')
    ids = t._take("organizations", lambda v: isinstance(v, list), "an array of strings")
    if not ids:
        raise ConfigError(f'{path}: must name at least one organization id, or "*"')
    for i, org_id in enumerate(ids):
        if not isinstance(org_id, str):
            raise ConfigError(f"{path}[{i}]: expected a string, got {_type_name(org_id)}")
        if org_id != "*" and org_id not in known:
            shown = t.quoted(f"{path}[{i}]", org_id)
            raise ConfigError(f"{path}[{i}]: unknown organization {shown}")
    return tuple(dict.fromkeys(ids))


def _limits(t: _Table) -> LimitsSettings:
    d = LimitsSettings()
    # A Make series cannot reach past Make's year; ten years keeps a Zylon series and
    # its answer within reason (the sandbox refuses 10,000 days).
    maximum = {"max_page_size": MAX_PAGE_SIZE, "max_series_days": 366, "max_range_days": 3660}
    # A field without a range reads the last 30 days, which touch 31 UTC days: a lower
    # limit would refuse every such field.
    minimum = {"max_series_days": 31, "max_range_days": 31}
    values: dict[str, Any] = {
        name: t.number(name, default, positive=True)
        if isinstance(default, float)
        else t.integer(name, default, minimum=minimum.get(name, 1), maximum=maximum.get(name))
        for name, default in ((n, getattr(d, n)) for n in LimitsSettings.__dataclass_fields__)
    }
    t.done()
    return LimitsSettings(**values)


def _graphql(t: _Table) -> GraphQLSettings:
    d = GraphQLSettings()
    values: dict[str, Any] = {
        name: t.boolean(name, getattr(d, name))
        for name in GraphQLSettings.__dataclass_fields__
        if isinstance(getattr(d, name), bool)
    }
    values["persisted_query_ttl_s"] = t.number(
        "persisted_query_ttl_s", d.persisted_query_ttl_s, positive=True
    )
    values["persisted_query_max_entries"] = t.integer(
        "persisted_query_max_entries", d.persisted_query_max_entries, minimum=1
    )
    values["trusted_documents"] = t.string("trusted_documents", d.trusted_documents)
    values["max_batch_operations"] = t.integer(
        "max_batch_operations", d.max_batch_operations, minimum=0, maximum=1000
    )
    t.done()
    return GraphQLSettings(**values)


def _telemetry(t: _Table) -> TelemetrySettings:
    d = TelemetrySettings()
    exporter = t.string("exporter", d.exporter)
    if exporter not in ("otlp", "console", "none"):
        raise ConfigError(f'{t.path("exporter")}: expected "otlp", "console" or "none"')
    settings = TelemetrySettings(
        enabled=t.boolean("enabled", d.enabled),
        service_name=t.string("service_name", d.service_name),
        exporter="otlp" if exporter == "otlp" else "console" if exporter == "console" else "none",
    )
    t.done()
    return settings
