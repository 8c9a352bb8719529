"""Daily series: Zylon's own timeseries, or one Make total per UTC day."""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry

from gateway.errors import Source, UpstreamBadResponse
from gateway.graph.context import Info
from gateway.graph.inputs import Metric, SourceEnum
from gateway.loaders.make_requests import Filters, Timeframe, TotalRequest
from gateway.loaders.zylon import SeriesKey
from gateway.ranges import Range, day_range, zylon_window
from gateway.upstreams.models import MakeMetrics, SeriesPoint
from gateway.upstreams.parsing import EXACT_FLOAT_INT


@strawberry.type(description="One UTC day of a daily series.")
class TimeSeriesPoint:
    date: dt.date = strawberry.field(description="The UTC day, 00:00:00Z to 23:59:59Z.")
    value: float = strawberry.field(
        description=(
            "The metric's total over that UTC day: a count (for CENTICREDITS, hundredths of "
            "a Make credit). 0 for a day without activity or in the future."
        )
    )


@strawberry.type(description="A daily series of one metric: one point per UTC day of the range.")
class TimeSeries:
    metric: Metric = strawberry.field(description="The metric asked for.")
    source: SourceEnum = strawberry.field(
        description="Where the values come from: ZYLON or MAKE, by the metric."
    )
    points: list[TimeSeriesPoint] = strawberry.field(
        description=(
            "One point per UTC day the range touches, oldest first, both ends included and "
            "zeros included (31 points without a range). Empty with an error when the source "
            "fails: check `errors` before reading it as no activity."
        )
    )


def _make_value(metric: Metric, m: MakeMetrics, day: dt.date) -> float:
    values = {
        Metric.OPERATIONS: m.operations,
        Metric.EXECUTIONS: m.executions,
        Metric.ERRORS: m.errors,
        Metric.CENTICREDITS: m.centicredits,
    }
    value = values[metric]
    if value > EXACT_FLOAT_INT:  # centicredits may: a point off by some, silently
        raise UpstreamBadResponse(
            Source.MAKE, f"{metric.name.lower()} on {day}: past 2**53, which a Float loses"
        )
    return float(value)


def _zylon_value(metric: Metric, point: SeriesPoint) -> float:
    if point.value is None:  # this window's field fails, not every one of the year
        raise UpstreamBadResponse(
            Source.ZYLON, f"{metric.name.lower()} on {point.date}: no usable value"
        )
    return point.value


async def load_series(
    info: Info, organization: str, metric: Metric, r: Range
) -> list[TimeSeriesPoint]:
    loaders = info.context.loaders
    if metric.source is SourceEnum.ZYLON:
        points = await loaders.zylon.series.load(
            SeriesKey(organization, metric.zylon_type, zylon_window(r))
        )
        return [TimeSeriesPoint(date=p.date, value=_zylon_value(metric, p)) for p in points]
    days = [day_range(d) for d in r.days()]
    totals = await asyncio.gather(
        *(
            loaders.make.total(TotalRequest(organization, Filters(), Timeframe(d.start, d.end)))
            for d in days
        )
    )
    return [
        TimeSeriesPoint(date=d.start.date(), value=_make_value(metric, m, d.start.date()))
        for d, m in zip(days, totals, strict=True)
    ]
