"""Geometry of the dashboard's two pictures, drawn as inline SVG by the templates (no
script, no CDN): stacked bars of the requirement states on the class page, lines of the
eligible share per cohort on the school page. Numbers in, rectangles and points out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sanzheng_gateway.trend import Point
from sanzheng_gateway.urgency import STATES

BAR_WIDTH = 300  # the bars' length in SVG units; the SVG scales to the page
BAR_HEIGHT = 18
BAR_GAP = 10


@dataclass(frozen=True)
class Segment:
    state: str
    count: int
    x: float
    width: float


@dataclass(frozen=True)
class Bar:
    code: str
    y: int
    of: int
    segments: list[Segment]


def stacked_bars(counts: list[dict[str, Any]]) -> list[Bar]:
    """One bar per requirement, its segments in urgency order (overdue first), each as long
    as its share of the students the requirement was decided for."""
    bars = []
    for i, row in enumerate(counts):
        x, segments = 0.0, []
        for state in STATES:
            width = BAR_WIDTH * row[state] / row["of"] if row["of"] else 0.0
            segments.append(Segment(state, row[state], round(x, 2), round(width, 2)))
            x += width
        bars.append(Bar(row["code"], i * (BAR_HEIGHT + BAR_GAP), row["of"], segments))
    return bars


LINE_WIDTH = 480
LINE_HEIGHT = 160


@dataclass(frozen=True)
class Line:
    cohort: int
    points: list[Point]
    path: str  # the polyline's "x,y x,y …"


def lines(shares: dict[int, list[Point]]) -> list[Line]:
    """One line per cohort over the same months, share 0 at the bottom, 100 % at the top."""
    drawn = []
    for cohort, points in shares.items():
        step = LINE_WIDTH / max(1, len(points) - 1)
        xy = [
            f"{round(i * step, 1)},{round(LINE_HEIGHT * (1 - p.share), 1)}"
            for i, p in enumerate(points)
        ]
        drawn.append(Line(cohort, points, " ".join(xy)))
    return drawn
