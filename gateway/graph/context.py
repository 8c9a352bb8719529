"""The per-request context every resolver reads, and the `Info` alias they are typed with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from gateway.cache import CacheNotes
from gateway.config import ClientSettings, OrganizationSettings, Settings
from gateway.cursors import CursorCodec
from gateway.errors import GatewayError, NotFound, shown
from gateway.loaders import Loaders

T = TypeVar("T")


@dataclass(slots=True)
class Context:
    caller: ClientSettings
    settings: Settings
    loaders: Loaders
    cursors: CursorCodec
    notes: CacheNotes
    now: dt.datetime
    # Errors of non-null fields answered with an empty value, so that one
    # source failing never blanks the rest of the response.
    soft_errors: list[GraphQLError] = field(default_factory=list)
    # When the answer may change by the clock alone (a default range moves on with it,
    # a range leaves Make's year): the whole-response cache keeps it no longer.
    changes_at: dt.datetime | None = None
    # What `_entities` searches in, built once per operation and shared by its
    # representations (gateway.graph.entities).
    searches: dict[object, Any] = field(default_factory=dict)

    def changes_by(self, when: dt.datetime) -> None:
        if self.changes_at is None or when < self.changes_at:
            self.changes_at = when

    def organization(self, organization_id: str) -> OrganizationSettings:
        """The organization, if the caller may read it; otherwise exactly like an unknown id."""
        org = self.settings.organization(organization_id)
        if org is None or not self.caller.may_read(org.id):
            raise NotFound(
                f"no organization with id {shown(organization_id)}; "
                "`organizations` lists the ones this API key may read"
            )
        return org

    def visible_organizations(self) -> list[OrganizationSettings]:
        return [o for o in self.settings.organizations if self.caller.may_read(o.id)]


Info = strawberry.Info[Context, Any]


async def or_default(info: Info, default: T, value: Awaitable[T]) -> T:
    """Await `value`; on a gateway error record it at this field and answer `default`."""
    try:
        return await value
    except GatewayError as exc:
        info.context.soft_errors.append(
            GraphQLError(
                exc.message,
                nodes=info._raw_info.field_nodes,
                path=info.path.as_list(),
                original_error=exc,
            )
        )
        return default
