"""Make's scenario analytics: `GET /analytics/{organizationId}` under a zone's API root."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from gateway.clock import Clock, utc_now
from gateway.config import Secret
from gateway.upstreams.http import UpstreamHTTP
from gateway.upstreams.models import MakeMetrics, MakePage, MakeQuery, MakeScenario, MakeStatus
from gateway.upstreams.parsing import Fields, SchemaMismatch, as_object

STATUSES = frozenset({"active", "inactive", "invalid"})
RETENTION_DAYS = 365  # a `dateFrom` older than this before Make's clock is refused
# How far past that limit `dateFrom` is sent: Make reads its clock when the request, or
# a retry of it, arrives, and its clock may run ahead of ours.
CLOCK_MARGIN = dt.timedelta(minutes=1)


class MakeClient:
    def __init__(
        self, http: UpstreamHTTP, *, organization_id: int, token: Secret, clock: Clock = utc_now
    ) -> None:
        self._http = http
        self.organization_id = organization_id
        self._token = token
        self._clock = clock

    def __repr__(self) -> str:
        return f"MakeClient(organization_id={self.organization_id})"

    async def analytics(self, query: MakeQuery) -> MakePage:
        return await self._http.get_json(
            f"/analytics/{self.organization_id}",
            params=make_params(query, now=self._clock()),
            headers={
                "Authorization": f"Token {self._token.reveal()}",
                "Accept": "application/json",
            },
            endpoint="analytics",
            parse=lambda body: parse_page(body, counted=query.return_total_count),
        )


def make_params(query: MakeQuery, *, now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """The query string of `query`, arrays as repeated keys, in a stable order; with
    `now`, the one to send at `now` (see `sent_from`)."""
    params: list[tuple[str, str]] = []
    params += [("teamId", str(team_id)) for team_id in query.team_ids]
    params += [("folderId", str(folder_id)) for folder_id in query.folder_ids]
    params += [("status", status) for status in query.statuses]
    if query.date_from is not None:
        date_from = query.date_from if now is None else sent_from(query.date_from, now)
        params.append(("timeframe[dateFrom]", iso_utc(date_from)))
    if query.date_to is not None:
        params.append(("timeframe[dateTo]", iso_utc(query.date_to)))
    if query.offset is not None:
        params.append(("pg[offset]", str(query.offset)))
    if query.limit is not None:
        params.append(("pg[limit]", str(query.limit)))
    if query.last is not None:
        params.append(("pg[last]", query.last))
    if query.sort_by is not None:
        params.append(("pg[sortBy]", query.sort_by))
    if query.sort_dir is not None:
        params.append(("pg[sortDir]", query.sort_dir))
    if query.return_total_count:
        params.append(("pg[returnTotalCount]", "true"))
    return params


def day_last_second(moment: dt.datetime) -> dt.datetime:
    """The last whole second of `moment`'s UTC day: where a timeframe of whole days ends."""
    return moment.astimezone(dt.UTC).replace(hour=23, minute=59, second=59, microsecond=0)


def whole_second_from(moment: dt.datetime) -> dt.datetime:
    """The first whole second at or after `moment`."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + dt.timedelta(seconds=1)


def sent_from(date_from: dt.datetime, now: dt.datetime) -> dt.datetime:
    """`dateFrom` as sent at `now`, on the oldest day Make keeps moved `CLOCK_MARGIN`
    past Make's limit (to a whole second, and no later than the day's last second).

    Make counts whole UTC days, so a `dateFrom` moved later within its day asks for the
    same figures; sent as it is, a `from` the gateway accepted a moment ago could be
    older than 365 days by Make's clock.
    """
    if date_from.tzinfo is None:
        date_from = date_from.replace(tzinfo=dt.UTC)
    oldest = now - dt.timedelta(days=RETENTION_DAYS) + CLOCK_MARGIN
    if date_from >= oldest:
        return date_from
    return min(whole_second_from(oldest), day_last_second(date_from))


def iso_utc(value: dt.datetime) -> str:
    """`2026-02-03T00:00:00Z`; a naive datetime is taken as UTC. Seconds suffice:
    Make aggregates per UTC day."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def parse_metrics(f: Fields) -> MakeMetrics:
    return MakeMetrics(
        executions=f.count("executions"),
        operations=f.count("operations"),
        centicredits=f.big_uint("centicredits"),
        errors=f.count("errors"),
        error_rate=f.optional_number("errorRate"),
        executions_change=f.optional_number("executionsChange"),
        operations_change=f.optional_number("operationsChange"),
        centicredits_change=f.optional_number("centicreditsChange"),
        errors_change=f.optional_number("errorsChange"),
        error_rate_change=f.optional_number("errorRateChange"),
    )


def parse_scenario(f: Fields) -> MakeScenario:
    return MakeScenario(
        id=f.identifier("id"),
        imt_id=f.optional_text("imtId"),
        name=f.text("name"),
        status=cast(MakeStatus, f.choice("status", STATUSES)),
        team_id=f.identifier("teamId"),
        team_name=f.text("teamName"),
        metrics=parse_metrics(f),
    )


def parse_page(body: Any, *, counted: bool = False) -> MakePage:
    """`counted`: the count was asked for (`pg[returnTotalCount]`), so it must be there; a
    page without it would read as the last one, with a total of 0."""
    f = as_object(body, "")
    scenarios = tuple(
        parse_scenario(as_object(item, f"analytics[{i}]"))
        for i, item in enumerate(f.array("analytics"))
    )
    if len({scenario.id for scenario in scenarios}) != len(scenarios):  # counted twice else
        raise SchemaMismatch("analytics", "each scenario once")
    pg = f.obj("pg") if counted else f.optional_obj("pg")
    return MakePage(
        total=parse_metrics(f.obj("total")),
        analytics=scenarios,
        last=pg.opaque("last") if pg else None,
        total_count=(pg.count("totalCount") if counted else pg.optional_count("totalCount"))
        if pg
        else None,
        sort_by=pg.optional_text("sortBy") if pg else None,
        sort_dir=pg.optional_text("sortDir") if pg else None,
        limit=pg.optional_integer("limit") if pg else None,
        offset=pg.optional_integer("offset") if pg else None,
    )
