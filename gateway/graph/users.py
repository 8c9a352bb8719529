"""Zylon users and their line of the active-users ranking."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from gateway.graph.arguments import time_range
from gateway.graph.context import Info
from gateway.graph.entities import find_user
from gateway.graph.inputs import ZYLON_RANGE, TimeRange
from gateway.graph.scalars import DateTime
from gateway.ranges import zylon_window
from gateway.upstreams.models import UserRankingEntry, ZylonUser


@strawberry.federation.type(
    keys=["id"],
    description=(
        "A Zylon workspace user, as Zylon's active-users ranking describes it. A federation "
        "entity keyed by `id`."
    ),
)
class User:
    id: strawberry.ID = strawberry.field(
        description="Zylon user id, e.g. `user_4b7c2a1d9e5f3c8b`; the entity's key."
    )
    org_id: str | None = strawberry.field(
        description="Zylon organization id of the user; null when Zylon sends none."
    )
    account_id: str | None = strawberry.field(
        description="Zylon account id of the user; null when Zylon sends none."
    )
    name: str = strawberry.field(description="Display name.")
    email: str = strawberry.field(description="Email address.")
    state: str = strawberry.field(description="Account state as Zylon reports it, e.g. `Active`.")
    roles: list[str] = strawberry.field(description="Zylon roles, e.g. `AppAdmin`; may be empty.")
    created_at: DateTime = strawberry.field(description="When the user was created in Zylon.")
    organization: strawberry.Private[str]

    @classmethod
    def of(cls, user: ZylonUser, organization: str) -> Self:
        return cls(
            id=strawberry.ID(user.id),
            org_id=user.org_id,
            account_id=user.account_id,
            name=user.name,
            email=user.email,
            state=user.state,
            roles=list(user.roles),
            created_at=DateTime(user.created_at),
            organization=organization,
        )

    @strawberry.field(
        description=(
            "This user's line of the active-users ranking over the range; null when the user "
            "had no activity in it, null with a NOT_RANKED error when it is not among the "
            "100 most active of that range (the most a Zylon ranking holds)."
        )
    )
    async def activity(
        self,
        info: Info,
        range: Annotated[TimeRange | None, strawberry.argument(description=ZYLON_RANGE)] = None,
    ) -> UserActivity | None:
        window = zylon_window(time_range(info.context, range))
        loaders = info.context.loaders.zylon
        entry = await loaders.activity(self.organization, "users", window, self.id)
        assert entry is None or isinstance(entry, UserRankingEntry)
        return None if entry is None else UserActivity.of(entry, self.organization)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        user, organization = await find_user(info, str(id))
        return cls.of(user, organization)


@strawberry.type(
    description=(
        "One line of Zylon's active-users ranking: a user and what it created over the range."
    )
)
class UserActivity:
    user: User = strawberry.field(description="The ranked user.")
    interactions_created: int = strawberry.field(
        description=(
            "Interactions the user created over the range (a count); the ranking sorts by it, "
            "descending."
        )
    )
    agent_flows_created: int = strawberry.field(
        description="Agent flows the user created over the range (a count)."
    )

    @classmethod
    def of(cls, entry: UserRankingEntry, organization: str) -> UserActivity:
        return cls(
            user=User.of(entry.user, organization),
            interactions_created=entry.interactions_created,
            agent_flows_created=entry.agent_flows_created,
        )
