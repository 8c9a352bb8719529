"""Zylon projects and their line of the active-projects ranking."""

from __future__ import annotations

from typing import Self

import strawberry

from gateway.graph.arguments import time_range
from gateway.graph.context import Info
from gateway.graph.entities import find_project
from gateway.graph.inputs import TimeRange
from gateway.graph.scalars import DateTime
from gateway.ranges import zylon_window
from gateway.upstreams.models import ProjectRankingEntry, ZylonProject


@strawberry.federation.type(keys=["id"])
class Project:
    id: strawberry.ID
    name: str
    goal: str | None
    deadline: DateTime | None
    visibility: str
    member_count: int
    default_member_role: str | None
    default_role_enabled: bool
    project_context: str | None
    answer_context: str | None
    is_pinned: bool
    organization: strawberry.Private[str]

    @classmethod
    def of(cls, p: ZylonProject, organization: str) -> Self:
        return cls(
            id=strawberry.ID(p.id),
            name=p.name,
            goal=p.goal,
            deadline=DateTime(p.deadline) if p.deadline is not None else None,
            visibility=p.visibility,
            member_count=p.member_count,
            default_member_role=p.default_member_role,
            default_role_enabled=p.default_role_enabled,
            project_context=p.project_context,
            answer_context=p.answer_context,
            is_pinned=p.is_pinned,
            organization=organization,
        )

    @strawberry.field(
        description=(
            "This project's line of the active-projects ranking over the range; null when it "
            "had no activity in it, null with a NOT_RANKED error when it is not among the "
            "100 most active of that range (the most a Zylon ranking holds)."
        )
    )
    async def activity(self, info: Info, range: TimeRange | None = None) -> ProjectActivity | None:
        window = zylon_window(time_range(info.context, range))
        loaders = info.context.loaders.zylon
        entry = await loaders.activity(self.organization, "projects", window, self.id)
        assert entry is None or isinstance(entry, ProjectRankingEntry)
        return None if entry is None else ProjectActivity.of(entry, self.organization)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        project, organization = await find_project(info, str(id))
        return cls.of(project, organization)


@strawberry.type
class ProjectActivity:
    project: Project
    interactions_created: int
    agent_flows_created: int

    @classmethod
    def of(cls, entry: ProjectRankingEntry, organization: str) -> ProjectActivity:
        return cls(
            project=Project.of(entry.project, organization),
            interactions_created=entry.interactions_created,
            agent_flows_created=entry.agent_flows_created,
        )
