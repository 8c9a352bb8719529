from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.config import (
    CacheSettings,
    ClientSettings,
    GraphQLSettings,
    LimitsSettings,
    MakeLink,
    OrganizationSettings,
    Secret,
    ServerSettings,
    Settings,
    UpstreamSettings,
    UpstreamsSettings,
    ZylonLink,
    load_settings,
    make_zone,
    parse_settings,
)
from gateway.errors import ConfigError

CONTRACT_EXAMPLE = """
[server]
host = "127.0.0.1"
port = 8000

[cache]
backend = "memory"                  # or "redis"
url = "redis://127.0.0.1:6379/0"    # redis only
default_ttl_s = 60

[upstreams.zylon]
timeout_s = 5.0
[upstreams.make]
timeout_s = 5.0

[[organizations]]
id = "aurora"
name = "Aurora Labs"
[organizations.zylon]
base_url = "https://zylon.example.com"
org_slug = "aurora-labs"
token = "${AURORA_ZYLON_TOKEN}"
[organizations.make]
base_url = "https://eu1.make.com/api/v2"    # the zone's API root
organization_id = 42
token = "${AURORA_MAKE_TOKEN}"

[[clients]]                          # who may call the gateway
name = "dashboard-frontend"
api_key = "${DASHBOARD_API_KEY}"
organizations = ["aurora"]           # or ["*"]
"""

ZYLON_TOKEN = "zy-secret-token-1111"
MAKE_TOKEN = "mk-secret-token-2222"
API_KEY = "api-key-secret-3333"
ENV = {
    "AURORA_ZYLON_TOKEN": ZYLON_TOKEN,
    "AURORA_MAKE_TOKEN": MAKE_TOKEN,
    "DASHBOARD_API_KEY": API_KEY,
}
SECRETS = (ZYLON_TOKEN, MAKE_TOKEN, API_KEY)


def base() -> dict[str, Any]:
    """A valid parsed document with real-looking secret values."""
    return {
        "organizations": [
            {
                "id": "aurora",
                "name": "Aurora Labs",
                "zylon": {
                    "base_url": "https://zylon.example.com",
                    "org_slug": "aurora-labs",
                    "token": ZYLON_TOKEN,
                },
                "make": {
                    "base_url": "https://eu1.make.com/api/v2",
                    "organization_id": 42,
                    "token": MAKE_TOKEN,
                },
            },
            {"id": "borealis", "name": "Borealis"},
        ],
        "clients": [
            {"name": "dashboard-frontend", "api_key": API_KEY, "organizations": ["aurora"]},
        ],
    }


def config_error(data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, env or {})
    message = str(info.value)
    for secret in SECRETS:
        assert secret not in message
    return message


def test_contract_example_parses_to_the_expected_settings(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(CONTRACT_EXAMPLE)
    settings = load_settings(path, env=ENV)
    assert settings == Settings(
        organizations=(
            OrganizationSettings(
                id="aurora",
                name="Aurora Labs",
                zylon=ZylonLink(
                    base_url="https://zylon.example.com",
                    org_slug="aurora-labs",
                    token=Secret(ZYLON_TOKEN),
                ),
                make=MakeLink(
                    base_url="https://eu1.make.com/api/v2",
                    organization_id=42,
                    token=Secret(MAKE_TOKEN),
                    zone="eu1",
                ),
            ),
        ),
        clients=(
            ClientSettings(
                name="dashboard-frontend", api_key=Secret(API_KEY), organizations=("aurora",)
            ),
        ),
        server=ServerSettings(host="127.0.0.1", port=8000, workers=1),
        cache=CacheSettings(backend="memory", url="redis://127.0.0.1:6379/0", default_ttl_s=60.0),
        upstreams=UpstreamsSettings(
            zylon=UpstreamSettings(timeout_s=5.0), make=UpstreamSettings(timeout_s=5.0)
        ),
        limits=LimitsSettings(),
        graphql=GraphQLSettings(),
        cursor_secret=None,
    )
    for secret in SECRETS:
        assert secret not in repr(settings)
        assert secret not in str(settings)


def test_every_key_of_every_section() -> None:
    data = base()
    data.update(
        {
            "server": {
                "host": "::1",
                "port": 9000,
                "workers": 4,
                "keep_alive_s": 75,
                "max_in_flight": 0,
            },
            "cache": {
                "backend": "redis",
                "url": "rediss://cache.internal:6380/1",
                "default_ttl_s": 30,
                "ttl_s": {"zylon_totals": 120, "make_day": 7.5},
                "past_day_ttl_s": 3600,
                "stale_s": 0,
                "max_entries": 50,
            },
            "upstreams": {
                "zylon": {
                    "timeout_s": 3,
                    "connect_timeout_s": 1.5,
                    "max_retries": 0,
                    "retry_base_delay_s": 0.1,
                    "retry_max_delay_s": 1,
                    "max_connections": 10,
                    "max_response_bytes": 1024,
                },
            },
            "limits": {"max_page_size": 50, "max_series_days": 31, "max_cost": 99},
            "graphql": {"introspection": False, "graphiql": False, "field_suggestions": False},
            "security": {"cursor_secret": "${CURSOR_SECRET}"},
        }
    )
    s = parse_settings(data, {"CURSOR_SECRET": "0123456789abcdef-cursor"})
    assert s.server == ServerSettings(
        host="::1", port=9000, workers=4, keep_alive_s=75, max_in_flight=0
    )
    assert s.cache == CacheSettings(
        backend="redis",
        url="rediss://cache.internal:6380/1",
        default_ttl_s=30.0,
        ttl_s={"zylon_totals": 120.0, "make_day": 7.5},
        past_day_ttl_s=3600.0,
        stale_s=0.0,
        max_entries=50,
    )
    assert s.upstreams.zylon == UpstreamSettings(
        timeout_s=3.0,
        connect_timeout_s=1.5,
        max_retries=0,
        retry_base_delay_s=0.1,
        retry_max_delay_s=1.0,
        max_connections=10,
        max_response_bytes=1024,
    )
    assert isinstance(s.upstreams.zylon.timeout_s, float)
    assert s.upstreams.make == UpstreamSettings()
    assert s.limits == LimitsSettings(max_page_size=50, max_series_days=31, max_cost=99)
    assert s.graphql == GraphQLSettings(False, False, False)
    assert s.cursor_secret == Secret("0123456789abcdef-cursor")
    assert s.cursor_key() == b"0123456789abcdef-cursor"


def test_defaults_of_an_empty_document() -> None:
    s = parse_settings({}, {})
    assert s == Settings(organizations=(), clients=())
    assert s.server.port == 8000
    assert s.cache.backend == "memory"
    assert s.cache.url is None
    assert s.limits.max_range_days == 366


def test_organization_may_have_neither_upstream_and_name_defaults_to_id() -> None:
    s = parse_settings({"organizations": [{"id": "lonely"}]}, {})
    assert s.organizations == (OrganizationSettings(id="lonely", name="lonely"),)
    assert s.organization("lonely") is not None
    assert s.organization("other") is None


def test_env_substitution_anywhere_in_any_string() -> None:
    data = base()
    data["server"] = {"host": "${HOST}"}
    data["organizations"][0]["zylon"]["base_url"] = "https://${ZHOST}:8443/prefix/"
    data["organizations"][0]["zylon"]["org_slug"] = "${A}-${B}-x"
    data["organizations"][0]["make"]["token"] = "Bearer-${MT}-suffix"
    env = {"HOST": "10.0.0.1", "ZHOST": "zylon.local", "A": "aa", "B": "bb", "MT": "tok"}
    s = parse_settings(data, env)
    assert s.server.host == "10.0.0.1"
    aurora = s.organizations[0]
    assert aurora.zylon is not None
    assert aurora.make is not None
    assert aurora.zylon.base_url == "https://zylon.local:8443/prefix"
    assert aurora.zylon.org_slug == "aa-bb-x"
    assert aurora.make.token.reveal() == "Bearer-tok-suffix"


def test_substituted_value_is_not_substituted_again() -> None:
    data = {"telemetry": {"service_name": "${N}"}}
    assert parse_settings(data, {"N": "${NOPE}"}).telemetry.service_name == "${NOPE}"


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TEST_HOST", "192.0.2.7")
    assert parse_settings({"server": {"host": "${GATEWAY_TEST_HOST}"}}).server.host == "192.0.2.7"


def test_missing_env_variable_names_variable_and_key() -> None:
    data = base()
    data["organizations"][0]["make"]["token"] = "${AURORA_MAKE_TOKEN}"
    message = config_error(data, {})
    assert "AURORA_MAKE_TOKEN" in message
    assert message.startswith("organizations[0].make.token:")


@pytest.mark.parametrize("text", ["${", "${UNCLOSED", "${1BAD}", "${}", "x${A-B}"])
def test_malformed_env_reference(text: str) -> None:
    message = config_error({"server": {"host": text}}, {"UNCLOSED": "x", "A": "a"})
    assert message.startswith("server.host: malformed")


def test_dollar_without_brace_is_literal() -> None:
    data = {"telemetry": {"service_name": "a$b$"}}
    assert parse_settings(data, {}).telemetry.service_name == "a$b$"


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys = re.findall(r"[^.\[\]]+", path)
    node: Any = data
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("server.port", "8000", "server.port: expected an integer, got a string"),
        ("server.port", True, "server.port: expected an integer, got a boolean"),
        ("server.port", 8000.0, "server.port: expected an integer, got a float"),
        ("server.port", 70000, "server.port: must be 1..65535"),
        # `serve --port 0` is refused: in the file, it listened on a port picked at random.
        ("server.port", 0, "server.port: must be 1..65535, got 0"),
        ("server.host", "not a host!", "server.host: neither a host name nor an IP address"),
        ("server.host", "[::1]", "server.host: neither a host name nor an IP address"),
        ("server.host", "http://gw.example.com", "server.host: neither a host name nor an IP"),
        ("server.workers", 0, "server.workers: must be 1..256"),
        ("server.workers", 10**11, "server.workers: must be 1..256"),
        # The schema's makeOrganizationId is a 32-bit GraphQL Int: reading it failed INTERNAL.
        ("organizations[0].make.organization_id", 2**31, "organizations[0].make.organization"),
        # Redis refuses such an expiry: every write counted as an outage.
        ("cache.default_ttl_s", 1e16, "cache.default_ttl_s: must be at most 315360000"),
        ("upstreams.make.timeout_s", 1e300, "upstreams.make.timeout_s: must be at most"),
        ("server.keep_alive_s", 0, "server.keep_alive_s: must be 1..3600, got 0"),
        ("server.max_in_flight", -1, "server.max_in_flight: must be 0..1000000, got -1"),
        (
            "graphql.max_batch_operations",
            1001,
            "graphql.max_batch_operations: must be 0..1000, got 1001",
        ),
        ("server.metrics_token", "short", "server.metrics_token: needs 16+ characters"),
        (
            "graphql.persisted_query_max_entries",
            0,
            "graphql.persisted_query_max_entries: must be at least 1, got 0",
        ),
        ("server.keep_alive_s", 2.5, "server.keep_alive_s: expected an integer, got a float"),
        ("server.host", "", "server.host: must not be empty"),
        ("server.bogus", 1, "server.bogus: unknown key"),
        ("bogus", 1, "bogus: unknown key"),
        ("server", [1], "server: expected a table, got an array"),
        ("cache.backend", "mem", 'cache.backend: expected "memory" or "redis"'),
        ("cache.url", "http://cache", "cache.url: must be a URL starting with redis://"),
        ("cache.default_ttl_s", 0, "cache.default_ttl_s: must be greater than 0"),
        ("cache.default_ttl_s", -5, "cache.default_ttl_s: must be greater than 0"),
        ("cache.default_ttl_s", False, "cache.default_ttl_s: expected a number, got a boolean"),
        ("cache.stale_s", -1, "cache.stale_s: must not be negative"),
        ("cache.ttl_s.zylon_totals", 0, "cache.ttl_s.zylon_totals: must be greater than 0"),
        ("cache.ttl_s.zylon_totalz", 5, "cache.ttl_s.zylon_totalz: unknown cache kind"),
        ("cache.ttl_s", 5, "cache.ttl_s: expected a table, got an integer"),
        ("cache.max_entries", 0, "cache.max_entries: must be at least 1"),
        ("upstreams.zylon.timeout_s", 0, "upstreams.zylon.timeout_s: must be greater than 0"),
        ("upstreams.make.timeout_s", -1.0, "upstreams.make.timeout_s: must be greater than 0"),
        (
            "upstreams.make.timeout_s",
            float("nan"),
            "upstreams.make.timeout_s: must be a finite number",
        ),
        (
            "upstreams.make.connect_timeout_s",
            0,
            "upstreams.make.connect_timeout_s: must be greater than 0",
        ),
        ("upstreams.make.max_retries", -1, "upstreams.make.max_retries: must be at least 0"),
        (
            "upstreams.make.retry_max_delay_s",
            0.01,
            "upstreams.make.retry_max_delay_s: must be at least retry_base_delay_s",
        ),
        ("upstreams.make.max_connections", 0, "upstreams.make.max_connections: must be at"),
        ("upstreams.other.timeout_s", 1, "upstreams.other: unknown key"),
        ("upstreams.zylon.timeouts", 1, "upstreams.zylon.timeouts: unknown key"),
        ("organizations", {"id": "x"}, "organizations: expected an array of tables"),
        ("organizations[1]", "x", "organizations[1]: expected a table, got a string"),
        ("organizations[1].id", 7, "organizations[1].id: expected a string, got an integer"),
        ("organizations[1].id", "aurora", "organizations[1].id: duplicate organization id"),
        ("organizations[1].id", "*", "organizations[1].id: "),
        ("organizations[1].colour", "red", "organizations[1].colour: unknown key"),
        (
            "organizations[0].make.organization_id",
            "42",
            "organizations[0].make.organization_id: expected an integer",
        ),
        (
            "organizations[0].make.organization_id",
            True,
            "organizations[0].make.organization_id: expected an integer, got a boolean",
        ),
        (
            "organizations[0].make.organization_id",
            0,
            "organizations[0].make.organization_id: must be 1..2147483647",
        ),
        (
            "organizations[0].make.base_url",
            "ftp://eu1.make.com/api/v2",
            "organizations[0].make.base_url: must be a URL starting with http:// or https://",
        ),
        (
            "organizations[0].zylon.base_url",
            "zylon.example.com",
            "organizations[0].zylon.base_url: must be a URL starting with http://",
        ),
        ("organizations[0].zylon.base_url", "https://", "organizations[0].zylon.base_url: "),
        (
            "organizations[0].zylon.base_url",
            "https://h:99999",
            "organizations[0].zylon.base_url: not a valid URL",
        ),
        (
            "organizations[0].zylon.base_url",
            "https://h/?a=1",
            "organizations[0].zylon.base_url: a base URL",
        ),
        (
            "organizations[0].zylon.base_url",
            "https://zy lon.example.com",
            "organizations[0].zylon.base_url: the URL's host is neither",
        ),
        (
            "organizations[0].zylon.base_url",
            "https://%zz",
            "organizations[0].zylon.base_url: the URL's host is neither",
        ),
        (
            "organizations[0].zylon.base_url",
            "http://a..b/zylon",
            "organizations[0].zylon.base_url: the URL's host is neither",
        ),
        (
            "organizations[0].zylon.base_url",
            "http://-x-.com",
            "organizations[0].zylon.base_url: the URL's host is neither",
        ),
        (
            "organizations[0].zylon.base_url",
            "http://1.2.3.4.5",
            "organizations[0].zylon.base_url: the URL's host is neither",
        ),
        (
            "organizations[0].zylon.base_url",
            "http://0x7f.1",
            "organizations[0].zylon.base_url: the URL's host is neither",
        ),
        (
            "organizations[0].zylon.base_url",
            "https://zylon.example.com:0",
            "organizations[0].zylon.base_url: the URL's port must be 1 to 65535",
        ),
        (
            "organizations[0].zylon.base_url",
            "http://127.0.0.1\t:1/zylon",  # urlsplit drops the tab; httpx refused it at start-up
            "organizations[0].zylon.base_url: the URL holds a space or a control character",
        ),
        (
            "organizations[0].zylon.base_url",
            "https://zylon.example.com/a\tb",
            "organizations[0].zylon.base_url: the URL holds a space or a control character",
        ),
        ("organizations[0].zylon.org_slug", "", "organizations[0].zylon.org_slug: must not be"),
        ("organizations[0].zylon.org_slug", "aurora-läb", "organizations[0].zylon.org_slug: it"),
        ("organizations[0].zylon.token", "", "organizations[0].zylon.token: must not be empty"),
        ("organizations[0].zylon.token", 5, "organizations[0].zylon.token: expected a string"),
        (
            "organizations[0].make.token",
            "tok\r\nX-Injected: 1",
            "organizations[0].make.token: must not contain control characters",
        ),
        (
            "clients[0].api_key",
            "key-of-the-dashboard\n",
            "clients[0].api_key: must not contain control characters",
        ),
        ("clients[0].api_key", "short-key", "clients[0].api_key: needs 16+ characters"),
        # Never matched: a header loses its surrounding spaces, and a client sends bytes.
        ("clients[0].api_key", "key-of-the-dashboard ", "clients[0].api_key: it is sent in"),
        ("clients[0].api_key", "clé-du-tableau-de-bord", "clients[0].api_key: it is sent in"),
        ("organizations[0].make.token", "tok en", "organizations[0].make.token: it is sent"),
        ("organizations[0].zylon.extra", 5, "organizations[0].zylon.extra: unknown key"),
        ("organizations[0].make.zone", "", "organizations[0].make.zone: must not be empty"),
        ("clients[0].organizations", ["nobody"], "clients[0].organizations[0]: unknown organiz"),
        ("clients[0].organizations", [], "clients[0].organizations: must name at least one"),
        ("clients[0].organizations", "*", "clients[0].organizations: expected an array"),
        ("clients[0].organizations", ["*", 3], "clients[0].organizations[1]: expected a string"),
        ("clients[0].name", "", "clients[0].name: must not be empty"),
        ("clients[0].api_key", 123, "clients[0].api_key: expected a string, got an integer"),
        ("clients[0].role", "admin", "clients[0].role: unknown key"),
        ("limits.max_page_size", 0, "limits.max_page_size: must be 1..9899"),
        # Make's largest page (10,000) less what a keyset page reads past its anchor.
        ("limits.max_page_size", 10_000, "limits.max_page_size: must be 1..9899, got 10000"),
        ("limits.max_depth", True, "limits.max_depth: expected an integer, got a boolean"),
        ("limits.max_range_days", 20_000, "limits.max_range_days: must be 31..3660, got 20000"),
        ("limits.max_series_days", 400, "limits.max_series_days: must be 31..366, got 400"),
        # The default range, the last 30 days, touches 31 UTC days.
        ("limits.max_series_days", 30, "limits.max_series_days: must be 31..366, got 30"),
        ("limits.max_range_days", 7, "limits.max_range_days: must be 31..3660, got 7"),
        ("limits.max_fun", 1, "limits.max_fun: unknown key"),
        ("graphql.introspection", "yes", "graphql.introspection: expected true or false"),
        ("graphql.playground", True, "graphql.playground: unknown key"),
        ("security.cursor_secret", "short", "security.cursor_secret: needs 16+ characters"),
        ("security.cursor_secret", 12, "security.cursor_secret: expected a string"),
        ("cursor_secret", "x" * 20, "cursor_secret: unknown key"),
    ],
)
def test_invalid_value_names_the_key(path: str, value: Any, expected: str) -> None:
    data = base()
    _set(data, path, value)
    message = config_error(data)
    assert message.startswith(expected), message


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("organizations[0].id", "organizations[0].id: required"),
        ("organizations[0].zylon.org_slug", "organizations[0].zylon.org_slug: required"),
        ("organizations[0].zylon.token", "organizations[0].zylon.token: required"),
        ("organizations[0].zylon.base_url", "organizations[0].zylon.base_url: required"),
        ("organizations[0].make.organization_id", "organizations[0].make.organization_id: req"),
        ("organizations[0].make.token", "organizations[0].make.token: required"),
        ("clients[0].name", "clients[0].name: required"),
        ("clients[0].api_key", "clients[0].api_key: required"),
        ("clients[0].organizations", "clients[0].organizations: required"),
    ],
)
def test_missing_required_key_names_it(path: str, expected: str) -> None:
    data = base()
    keys = re.findall(r"[^.\[\]]+", path)
    node: Any = data
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[keys[-1]]
    assert config_error(data).startswith(expected)


def test_redis_backend_requires_url() -> None:
    assert config_error({"cache": {"backend": "redis"}}).startswith("cache.url: required")


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:pw@cache:6380",
        "unix:///run/redis.sock",
        "redis://cache/ignored?db=2",  # `?db=` names the database: redis-py reads that
    ],
)
def test_redis_urls_accepted(url: str) -> None:
    s = parse_settings({"cache": {"backend": "redis", "url": url}}, {})
    assert s.cache.backend == "redis"
    assert s.cache.url == url


@pytest.mark.parametrize("url", ["redis://cache:6379/notadb", "rediss://:pw@cache/0/1"])
def test_a_redis_url_whose_path_is_no_database_is_refused(url: str) -> None:
    """redis-py ignores such a path: every replica would share database 0 unawares."""
    message = config_error({"cache": {"backend": "redis", "url": url}})
    assert message == "cache.url: its path must be a database number, as /0"


def test_redis_url_password_never_echoed() -> None:
    message = config_error({"cache": {"backend": "redis", "url": "http://:hunter2pass@cache"}})
    assert message.startswith("cache.url:")
    assert "hunter2pass" not in message


@pytest.mark.parametrize(("section", "key"), [("cache", "backend"), ("telemetry", "exporter")])
def test_a_secret_substituted_into_the_wrong_key_is_never_echoed(section: str, key: str) -> None:
    """`${NAME}` is replaced before the check: the value may be a credential."""
    env = {"OOPS": "redis://:hunter2pass@redis.internal:6379/0"}
    message = config_error({section: {key: "${OOPS}"}}, env)
    assert message.startswith(f"{section}.{key}: expected")
    assert "hunter2pass" not in message


def _from_env_cases() -> list[tuple[dict[str, Any], str]]:
    unknown = base()
    unknown["clients"][0]["organizations"] = ["${OOPS}"]
    org_twice = base()
    org_twice["organizations"][0]["id"] = "${OOPS}"
    org_twice["organizations"].append({"id": "${OOPS}"})
    org_twice["clients"][0]["organizations"] = ["*"]
    client_twice = base()
    client_twice["clients"][0]["name"] = "${OOPS}"
    client_twice["clients"].append(
        {"name": "${OOPS}", "api_key": "another-api-key-11", "organizations": ["*"]}
    )
    return [
        (unknown, "clients[0].organizations[0]: unknown organization (from the environment"),
        (org_twice, f"organizations[{len(org_twice['organizations']) - 1}].id: duplicate org"),
        (client_twice, "clients[1].name: duplicate client name (from the environment"),
    ]


@pytest.mark.parametrize(("data", "expected"), _from_env_cases())
def test_a_value_from_the_environment_is_never_quoted_in_an_error(
    data: dict[str, Any], expected: str
) -> None:
    """A secret substituted into the wrong key: an organization id, a client's name."""
    message = config_error(data, {"OOPS": "apikeySECRET7890abcd"})
    assert message.startswith(expected), message
    assert message.endswith("(from the environment, not shown)")
    assert "apikeySECRET7890abcd" not in message


def test_a_value_written_in_the_file_is_quoted() -> None:
    data = base()
    data["clients"][0]["organizations"] = ["nobody"]
    assert "unknown organization 'nobody'" in config_error(data)


def test_toml_nested_too_deeply_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 600 + "]" * 600 + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: not valid TOML: nested too deeply"


def test_url_with_credentials_not_echoed() -> None:
    data = base()
    data["organizations"][0]["zylon"]["base_url"] = f"https://user:{ZYLON_TOKEN}@zylon.example"
    assert config_error(data).startswith("organizations[0].zylon.base_url:")


def test_duplicate_client_name() -> None:
    data = base()
    data["clients"].append(
        {"name": "dashboard-frontend", "api_key": "another-api-key-11", "organizations": ["*"]}
    )
    assert config_error(data).startswith("clients[1].name: duplicate client name")


def test_duplicate_api_key_is_named_without_its_value() -> None:
    data = base()
    data["clients"].append({"name": "second", "api_key": API_KEY, "organizations": ["*"]})
    message = config_error(data)
    assert message.startswith("clients[1].api_key: the same api key as clients[0].api_key")


def test_wildcard_client_and_duplicates_collapsed() -> None:
    data = base()
    data["clients"][0]["organizations"] = ["*"]
    data["clients"].append(
        {"name": "two", "api_key": "second-api-key-22", "organizations": ["borealis", "borealis"]}
    )
    s = parse_settings(data, {})
    assert s.clients[0].organizations == ("*",)
    assert s.clients[0].may_read("borealis")
    assert s.clients[1].organizations == ("borealis",)
    assert not s.clients[1].may_read("aurora")


def test_base_urls_lose_their_trailing_slash() -> None:
    data = base()
    data["organizations"][0]["make"]["base_url"] = "https://us1.make.com/api/v2/"
    data["organizations"][0]["zylon"]["base_url"] = "http://127.0.0.1:8081/"
    org = parse_settings(data, {}).organizations[0]
    assert org.make is not None
    assert org.zylon is not None
    assert org.make.base_url == "https://us1.make.com/api/v2"
    assert org.make.zone == "us1"
    assert org.zylon.base_url == "http://127.0.0.1:8081"


def test_explicit_zone_wins() -> None:
    data = base()
    data["organizations"][0]["make"]["base_url"] = "http://127.0.0.1:9999/api/v2"
    data["organizations"][0]["make"]["zone"] = "eu2"
    org = parse_settings(data, {}).organizations[0]
    assert org.make is not None
    assert org.make.zone == "eu2"


@pytest.mark.parametrize(
    ("url", "zone"),
    [
        ("https://eu1.make.com/api/v2", "eu1"),
        ("https://EU2.make.com/api/v2", "eu2"),
        ("https://us2.make.com", "us2"),
        ("https://eu1.make.celonis.com/api/v2", "eu1"),
        ("https://us1.make.celonis.com/api/v2", "us1"),
        ("https://make.com/api/v2", None),
        ("https://a.b.make.com/api/v2", None),
        ("http://127.0.0.1:8080/api/v2", None),
        ("https://eu1.make.com.evil.example/api/v2", None),
    ],
)
def test_make_zone(url: str, zone: str | None) -> None:
    assert make_zone(url) == zone


def test_load_settings_reports_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = = 1\ntoken = "never-shown-secret"\n')
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_settings(bad, env={})
    assert "never-shown-secret" not in str(info.value)
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(tmp_path / "missing.toml", env={})


def test_load_settings_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[server]\nport = 8123\n[[organizations]]\nid = "x"\n')
    s = load_settings(str(path), env={})
    assert s.server.port == 8123
    assert [o.id for o in s.organizations] == ["x"]


def test_parse_settings_does_not_mutate_its_input() -> None:
    data = base()
    data["server"] = {"host": "${H}"}
    before = copy.deepcopy(data)
    parse_settings(data, {"H": "h"})
    assert data == before


def test_cursor_key_is_derived_deterministically_from_secrets() -> None:
    a = parse_settings(base(), {})
    b = parse_settings(base(), {})
    assert a.cursor_key() == b.cursor_key()
    assert len(a.cursor_key()) == 32
    for secret in SECRETS:
        assert secret.encode() not in a.cursor_key()
    rotated = base()
    rotated["clients"][0]["api_key"] = "a-rotated-api-key-3"
    assert parse_settings(rotated, {}).cursor_key() != a.cursor_key()
    assert parse_settings({}, {}).cursor_key() != a.cursor_key()


def test_cursor_key_independent_of_declaration_order() -> None:
    data = base()
    data["clients"].append({"name": "zz", "api_key": "second-api-key-22", "organizations": ["*"]})
    reordered = base()
    reordered["clients"].insert(
        0, {"name": "zz", "api_key": "second-api-key-22", "organizations": ["*"]}
    )
    assert parse_settings(data, {}).cursor_key() == parse_settings(reordered, {}).cursor_key()


def test_the_largest_page_size_fits_in_makes_largest_page() -> None:
    from gateway.config import MAX_PAGE_SIZE
    from gateway.loaders.make import FULL_LIST_LIMIT
    from gateway.loaders.pagination import MAX_KEYSET_SKIP

    # A page past a keyset anchor asks for its skip, the page and one more.
    assert MAX_PAGE_SIZE + MAX_KEYSET_SKIP + 1 == FULL_LIST_LIMIT


def test_a_relative_manifest_is_read_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever the server starts from: a container's working directory is `/`."""
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "gateway.toml"
    path.write_text('[graphql]\ntrusted_documents = "trusted.json"\n')
    monkeypatch.chdir(tmp_path)
    settings = load_settings(path, env={})
    assert settings.graphql.trusted_documents == str(folder / "trusted.json")
    path.write_text(f'[graphql]\ntrusted_documents = "{tmp_path / "abs.json"}"\n')
    assert load_settings(path, env={}).graphql.trusted_documents == str(tmp_path / "abs.json")


def test_a_batch_limit_over_the_cap_on_operations_in_flight_is_refused() -> None:
    """Each operation of a batch takes a place under the cap: a batch over it would be
    refused 503 on every try."""
    data = {"server": {"max_in_flight": 4}, "graphql": {"max_batch_operations": 5}}
    message = config_error(data, {})
    assert message.startswith("graphql.max_batch_operations: 5 is over server.max_in_flight (4)")
    data["graphql"]["max_batch_operations"] = 4
    assert parse_settings(data, {}).graphql.max_batch_operations == 4
