"""Zylon users and their line of the active-users ranking."""

from __future__ import annotations

from typing import Self

import strawberry

from gateway.graph.arguments import time_range
from gateway.graph.context import Info
from gateway.graph.entities import find_user
from gateway.graph.inputs import TimeRange
from gateway.graph.scalars import DateTime
from gateway.ranges import zylon_window
from gateway.upstreams.models import UserRankingEntry, ZylonUser


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    org_id: str | None
    account_id: str | None
    name: str
    email: str
    state: str
    roles: list[str]
    created_at: DateTime
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
    async def activity(self, info: Info, range: TimeRange | None = None) -> UserActivity | None:
        window = zylon_window(time_range(info.context, range))
        loaders = info.context.loaders.zylon
        entry = await loaders.activity(self.organization, "users", window, self.id)
        assert entry is None or isinstance(entry, UserRankingEntry)
        return None if entry is None else UserActivity.of(entry, self.organization)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        user, organization = await find_user(info, str(id))
        return cls.of(user, organization)


@strawberry.type
class UserActivity:
    user: User
    interactions_created: int
    agent_flows_created: int

    @classmethod
    def of(cls, entry: UserRankingEntry, organization: str) -> UserActivity:
        return cls(
            user=User.of(entry.user, organization),
            interactions_created=entry.interactions_created,
            agent_flows_created=entry.agent_flows_created,
        )
