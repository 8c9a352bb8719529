"""Deterministic demo data for the simulated upstreams.

`generate(seed, today)` always yields the same values for the same seed; `today`
only moves the calendar under them (index 0 is `today - 399`). The organizations'
identities (keys, slugs, tokens, Make ids and zones) are fixed: tests and configs
rely on them.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from typing import Any

from gateway.sandbox.model import (
    DAYS,
    Folder,
    MakeOrg,
    Organization,
    SandboxData,
    Scenario,
    ScenarioStatus,
    Series,
    Team,
    ZylonEntity,
    ZylonOrg,
)

BLOCK_DAYS = 30  # activity is switched off in whole blocks ("months") of this many days


@dataclass(frozen=True, slots=True)
class _OrgSpec:
    key: str
    name: str
    slug: str
    domain: str
    users: int
    projects: int
    make_id: int | None = None
    zone: str | None = None
    teams: tuple[tuple[int, str], ...] = ()
    folders: tuple[tuple[int, str], ...] = ()
    scenarios: int = 0

    @property
    def zylon_token(self) -> str:
        return f"sbx-zylon-{self.key}"

    @property
    def make_token(self) -> str | None:
        return f"sbx-make-{self.key}" if self.make_id is not None else None


ORG_SPECS = (
    _OrgSpec(
        key="aurora",
        name="Aurora Labs",
        slug="aurora-labs",
        domain="auroralabs.com",
        users=48,
        projects=24,
        make_id=42,
        zone="eu1",
        teams=((11, "Growth"), (12, "Platform"), (13, "Équipe Data"), (14, "finance")),
        folders=((301, "Production"), (302, "Experiments"), (303, "Archive")),
        scenarios=130,
    ),
    _OrgSpec(
        key="borealis",
        name="Borealis Systems",
        slug="borealis",
        domain="borealis.io",
        users=36,
        projects=20,
        make_id=77,
        zone="us1",
        teams=((21, "Core"), (22, "Field Ops"), (23, "Support")),
        folders=((401, "Live"), (402, "Drafts")),
        scenarios=105,
    ),
    _OrgSpec(
        key="cygnus",
        name="Cygnus Studio",
        slug="cygnus",
        domain="cygnus.studio",
        users=12,
        projects=6,
    ),
)

FIRST_NAMES = (
    "Sasha", "Priya", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Zoë", "José", "Łukasz",
    "Søren", "Aiko", "Chloé", "Ines", "Omar", "Yuki", "Lena", "Marta", "Jonas", "Kofi",
    "Amara", "Diego", "Hana", "Ravi", "Nora", "Felix", "Ada", "Björn", "Elif", "Tariq",
)  # fmt: skip
LAST_NAMES = (
    "Patel", "Nguyen", "García", "Müller", "Smith", "Kowalski", "Tanaka", "Okafor",
    "Rossi", "Dubois", "Andersen", "Silva", "Khan", "Novak", "Ivanova", "O'Brien",
    "Larsen", "Moreau", "Costa", "Y\u0131lmaz",
)  # fmt: skip
PROJECT_NAMES = (
    "Customer Insights", "Churn Forecast", "Support Digest", "Pricing Study", "Onboarding Bot",
    "Release Notes", "Sales Playbook", "Incident Review", "Market Scan", "Hiring Pipeline",
    "Docs Assistant", "Partner Portal", "Legal Review", "Roadmap 2026", "Data Catalog",
    "Brand Voice", "Security Audit", "QA Triage", "Field Reports", "Investor Update",
    "Vendor Compare", "Café Expansion", "Résumé Screening", "Localization", "Board Pack",
    "Ops Handbook", "Feature Flags", "Forecast Q3",
)  # fmt: skip
GOALS = (
    "Summarize weekly support trends.", "Draft answers from the knowledge base.",
    "Track competitor launches.", "Prepare the quarterly report.", "Shorten review cycles.",
)  # fmt: skip
VERBS = (
    "Sync", "Import", "Export", "Notify", "Backup", "Enrich", "Route", "Archive", "Digest",
    "Tag", "Score", "Merge", "Post", "Watch", "Clean",
)  # fmt: skip
OBJECTS = (
    "leads", "invoices", "tickets", "contacts", "orders", "Slack alerts", "CRM deals",
    "calendar events", "survey answers", "GitHub issues", "payments", "shipments",
    "newsletter signups", "reviews", "Jira tasks", "HR records", "expenses", "webhooks",
    "forms", "Drive files",
)  # fmt: skip
SPECIAL_NAMES = (
    "Émail → CRM sync", "Zürich leads import", "数据同步", "🚀 Launch alerts",
    "\uff46\uff55\uff4c\uff4c-width export", "élan weekly digest", "Ångström metrics", "alpha feed",
    "Alpha feed", "Ledger reconciliation (bulk)",
)  # fmt: skip
WHALE_NAME = "Ledger reconciliation (bulk)"


def generate(seed: int = 7, today: dt.date | None = None) -> SandboxData:
    if today is None:
        today = dt.datetime.now(dt.UTC).date()
    rng = random.Random(seed)
    first_day = today - dt.timedelta(days=DAYS - 1)
    next_scenario_id = [100_000 + rng.randrange(1000)]
    organizations = []
    for spec in ORG_SPECS:
        zylon = _zylon_org(rng, spec, first_day, today)
        make = _make_org(rng, spec, next_scenario_id) if spec.make_id is not None else None
        organizations.append(Organization(spec.key, spec.name, zylon, make))
    return SandboxData(seed=seed, today=today, organizations=tuple(organizations))


# --- Zylon ----------------------------------------------------------------


def _hex_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(64):016x}"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _off_blocks(rng: random.Random, chance: float) -> set[int]:
    return {b for b in range(DAYS // BLOCK_DAYS + 1) if rng.random() < chance}


def _zylon_org(rng: random.Random, spec: _OrgSpec, first_day: dt.date, today: dt.date) -> ZylonOrg:
    org_id = _hex_id(rng, "org")
    user_fields = _user_fields(rng, spec, org_id, first_day)
    project_fields = _project_fields(rng, spec, first_day, today)
    n_users, n_projects = len(user_fields), len(project_fields)

    # Projects: one or two are never used; the others are switched off in some blocks.
    dead = set(rng.sample(range(n_projects), max(1, n_projects // 10)))
    project_off = [_off_blocks(rng, 0.12) for _ in range(n_projects)]
    live = [p for p in range(n_projects) if p not in dead]

    # Users: a few never active, one agent-only, the rest with a level and off blocks.
    never = set(rng.sample(range(n_users), max(1, n_users // 20)))
    agent_only = rng.choice([u for u in range(n_users) if u not in never])
    levels = [rng.choice((2, 3, 5, 8, 13)) for _ in range(n_users)]
    chances = [rng.choice((0.08, 0.3, 0.55, 0.8)) for _ in range(n_users)]
    user_off = [_off_blocks(rng, 0.2) for _ in range(n_users)]
    homes = [rng.sample(live, min(len(live), rng.randint(1, 4))) for _ in range(n_users)]

    u_inter = [[0] * DAYS for _ in range(n_users)]
    u_flows = [[0] * DAYS for _ in range(n_users)]
    p_inter = [[0] * DAYS for _ in range(n_projects)]
    p_flows = [[0] * DAYS for _ in range(n_projects)]
    for day in range(DAYS):
        block = day // BLOCK_DAYS
        for u in range(n_users):
            if u in never or block in user_off[u] or rng.random() >= chances[u]:
                continue
            places = [p for p in homes[u] if block not in project_off[p]]
            if not places:
                continue
            inter = 0 if u == agent_only else rng.randint(1, levels[u])
            flows = rng.randint(1, 3) if rng.random() < 0.25 or u == agent_only else 0
            for _ in range(inter):
                p_inter[rng.choice(places)][day] += 1
            for _ in range(flows):
                p_flows[rng.choice(places)][day] += 1
            u_inter[u][day] = inter
            u_flows[u][day] = flows

    users = tuple(
        ZylonEntity(f["id"], f, Series.of(u_inter[i]), Series.of(u_flows[i]))
        for i, f in enumerate(user_fields)
    )
    projects = tuple(
        ZylonEntity(f["id"], f, Series.of(p_inter[i]), Series.of(p_flows[i]))
        for i, f in enumerate(project_fields)
    )
    day_inter = [sum(u_inter[u][d] for u in range(n_users)) for d in range(DAYS)]
    day_flows = [sum(u_flows[u][d] for u in range(n_users)) for d in range(DAYS)]
    threads = [rng.randint(0, n // 3 + 1) if n else 0 for n in day_inter]
    artifacts = [rng.randint(1, 4) if rng.random() < 0.3 else 0 for _ in range(DAYS)]
    return ZylonOrg(
        slug=spec.slug,
        token=spec.zylon_token,
        org_id=org_id,
        users=users,
        projects=projects,
        interactions=Series.of(day_inter),
        agent_flows=Series.of(day_flows),
        threads=Series.of(threads),
        uploaded_artifacts=Series.of(artifacts),
    )


def _user_fields(
    rng: random.Random, spec: _OrgSpec, org_id: str, first_day: dt.date
) -> list[dict[str, Any]]:
    start = dt.datetime.combine(first_day, dt.time(), dt.UTC)
    users: list[dict[str, Any]] = []
    emails: set[str] = set()
    for i in range(spec.users):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_ascii(first)}.{_ascii(last)}@{spec.domain}"
        if email in emails:
            email = f"{_ascii(first)}.{_ascii(last)}{i}@{spec.domain}"
        emails.add(email)
        created = start - dt.timedelta(days=rng.randint(5, 900), seconds=rng.randrange(86400))
        users.append(
            {
                "id": _hex_id(rng, "user"),
                "org_id": org_id,
                "account_id": None if rng.random() < 0.1 else _hex_id(rng, "acct"),
                "name": f"{first} {last}",
                "email": email,
                "state": "Active" if rng.random() < 0.9 else "Suspended",
                "roles": ["AppAdmin"]
                if i == 0
                else rng.choice((["Member"], ["Member", "Builder"])),
                "created_at": _iso(created),
            }
        )
    return users


def _project_fields(
    rng: random.Random, spec: _OrgSpec, first_day: dt.date, today: dt.date
) -> list[dict[str, Any]]:
    names = rng.sample(PROJECT_NAMES, spec.projects)
    projects: list[dict[str, Any]] = []
    for name in names:
        deadline = today + dt.timedelta(days=rng.randint(-60, 200))
        projects.append(
            {
                "id": _hex_id(rng, "proj"),
                "name": name,
                "goal": rng.choice(GOALS) if rng.random() < 0.7 else None,
                "deadline": _iso(dt.datetime.combine(deadline, dt.time(), dt.UTC))
                if rng.random() < 0.6
                else None,
                "visibility": rng.choice(("Private", "Public", "Organization")),
                "member_count": rng.randint(1, 15),
                "default_member_role": rng.choice(("Editor", "Viewer", None)),
                "default_role_enabled": rng.random() < 0.5,
                "project_context": f"Context for {name}." if rng.random() < 0.6 else None,
                "answer_context": "Use approved templates." if rng.random() < 0.5 else None,
                "is_pinned": rng.random() < 0.25,
            }
        )
    return projects


# --- Make -----------------------------------------------------------------


def _scenario_names(rng: random.Random, count: int, specials: int) -> list[str]:
    names = [f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}" for _ in range(count - specials)]
    names += list(SPECIAL_NAMES[:specials])
    names[1] = names[0]  # at least one duplicate name for sure
    rng.shuffle(names)
    return names


def _make_org(rng: random.Random, spec: _OrgSpec, next_id: list[int]) -> MakeOrg:
    assert spec.make_id is not None
    assert spec.make_token is not None
    assert spec.zone is not None
    teams = tuple(Team(i, n) for i, n in spec.teams)
    folders = tuple(Folder(i, n) for i, n in spec.folders)
    # Aurora gets every special name, the whale among them; Borealis a few.
    specials = len(SPECIAL_NAMES) if spec.key == "aurora" else 4
    names = _scenario_names(rng, spec.scenarios, specials)
    ids = []
    for _ in names:
        next_id[0] += rng.randint(1, 97)
        ids.append(next_id[0])
    rng.shuffle(ids)
    scenarios = []
    for index, (scenario_id, name) in enumerate(zip(ids, names, strict=True)):
        team = teams[index] if index < len(teams) else rng.choice(teams)
        status: ScenarioStatus = rng.choices(("active", "inactive", "invalid"), (8, 3, 1))[0]
        folder = rng.choice(folders) if rng.random() < 0.8 else None
        metrics = _scenario_metrics(rng, whale=name == WHALE_NAME)
        scenarios.append(
            Scenario(
                id=scenario_id,
                imt_id=f"imt-{rng.getrandbits(48):012x}",
                name=name,
                status=status,
                team_id=team.id,
                team_name=team.name,
                folder_id=folder.id if folder else None,
                executions=metrics[0],
                operations=metrics[1],
                errors=metrics[2],
                centicredits=metrics[3],
            )
        )
    return MakeOrg(spec.make_id, spec.make_token, spec.zone, teams, folders, tuple(scenarios))


def _active_days(rng: random.Random, pattern: str) -> range | None:
    if pattern == "never":
        return None
    if pattern == "recent":  # nothing before its last few weeks: *Change absent
        return range(DAYS - rng.randint(10, 60), DAYS)
    if pattern == "dormant":  # nothing in its last months: errorRate absent
        return range(0, rng.randint(60, 200))
    return range(DAYS)


def _scenario_metrics(rng: random.Random, *, whale: bool) -> tuple[Series, Series, Series, Series]:
    pattern = (
        "steady"
        if whale
        else rng.choices(("steady", "gappy", "recent", "dormant", "never"), (10, 4, 2, 2, 1))[0]
    )
    days = _active_days(rng, pattern)
    off = _off_blocks(rng, 0.25) if pattern == "gappy" else set()
    level = rng.choice((1, 3, 10, 40, 150))
    chance = 1.0 if whale else rng.choice((0.2, 0.6, 0.95))
    per_exec = rng.randint(1, 12)
    error_share = rng.choice((0.0, 0.0, 0.02, 0.1, 0.4))
    executions = [0] * DAYS
    operations = [0] * DAYS
    errors = [0] * DAYS
    credits = [0] * DAYS
    for day in days or ():
        if day // BLOCK_DAYS in off or rng.random() >= chance:
            continue
        runs = rng.randint(1, level)
        ops = runs * per_exec + rng.randint(0, runs)
        executions[day] = runs
        operations[day] = ops
        errors[day] = min(runs, int(runs * error_share * 2 * rng.random() + 0.5))
        if whale:
            credits[day] = rng.randint(30_000_000_000_000, 60_000_000_000_000)
        else:
            credits[day] = ops * 100 + rng.randint(0, 99)
    return Series.of(executions), Series.of(operations), Series.of(errors), Series.of(credits)
