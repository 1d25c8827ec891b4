"""Names beside the points of a scatter chart, placed so that none covers another.

Plotly writes a point's text at one fixed position; points close together then print their
names over each other. :func:`place` groups points that sit on top of each other at the
chart's size (their names become one label, one name per line, top to bottom as the points
are) and gives each label the first side of its point (above, below, right, left) where its
box, estimated from the text's length, touches no other label and no point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Estimated size of a name's letters at the charts' 12 px font, in pixels.
CHAR_PX = 7.2
LINE_PX = 16.0
#: Gap between a point's centre and its label, in pixels (the markers are 14 px wide).
GAP_PX = 10.0
#: Points closer than this (pixels, both ways) share one label.
NEAR_PX = 14.0


@dataclass(frozen=True)
class Label:
    """One label: its text (names joined by ``<br>``), the point it is written beside, and
    how Plotly anchors it there (``xanchor``/``yanchor`` and the shift in pixels)."""

    text: str
    x: float
    y: float
    xanchor: str
    yanchor: str
    xshift: float
    yshift: float


# side → (xanchor, yanchor, x shift, y shift) in Plotly's terms
_SIDES = {
    "above": ("center", "bottom", 0.0, GAP_PX),
    "below": ("center", "top", 0.0, -GAP_PX),
    "right": ("left", "middle", GAP_PX, 0.0),
    "left": ("right", "middle", -GAP_PX, 0.0),
}


def _box(px: float, py: float, w: float, h: float, side: str) -> tuple[float, float, float, float]:
    """The label's box (left, bottom, right, top) in pixels, y upwards."""
    if side == "above":
        return (px - w / 2, py + GAP_PX, px + w / 2, py + GAP_PX + h)
    if side == "below":
        return (px - w / 2, py - GAP_PX - h, px + w / 2, py - GAP_PX)
    if side == "right":
        return (px + GAP_PX, py - h / 2, px + GAP_PX + w, py + h / 2)
    return (px - GAP_PX - w, py - h / 2, px - GAP_PX, py + h / 2)


def _overlap(a, b) -> float:
    dx = min(a[2], b[2]) - max(a[0], b[0])
    dy = min(a[3], b[3]) - max(a[1], b[1])
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _cost(box, avoid, area: tuple[float, float]) -> float:
    """How much of ``box`` covers the boxes to ``avoid`` or leaves the plot ``area``."""
    w, h = box[2] - box[0], box[3] - box[1]
    outside_x = max(0.0, -box[0]) + max(0.0, box[2] - area[0])
    outside_y = max(0.0, -box[1]) + max(0.0, box[3] - area[1])
    return sum(_overlap(box, b) for b in avoid) + outside_x * h + outside_y * w


def place(
    xs: Sequence[float],
    ys: Sequence[float],
    names: Sequence[str],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    width_px: float,
    height_px: float,
) -> list[Label]:
    """Labels for the points ``(xs[i], ys[i])`` named ``names[i]`` on a plot area of
    ``width_px`` × ``height_px`` pixels showing ``x_range`` × ``y_range``."""
    sx = width_px / ((x_range[1] - x_range[0]) or 1.0)
    sy = height_px / ((y_range[1] - y_range[0]) or 1.0)
    pts = [((x - x_range[0]) * sx, (y - y_range[0]) * sy) for x, y in zip(xs, ys, strict=True)]

    # points on top of each other at this size share a label (single linkage)
    group = list(range(len(pts)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(len(pts)):
        for j in range(i):
            if abs(pts[i][0] - pts[j][0]) < NEAR_PX and abs(pts[i][1] - pts[j][1]) < NEAR_PX:
                group[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(len(pts)):
        members.setdefault(root(i), []).append(i)

    marker_boxes = [(px - 7, py - 7, px + 7, py + 7) for px, py in pts]
    placed: list[tuple[float, float, float, float]] = []
    labels: list[Label] = []
    # the most crowded first, then from the top of the chart down
    for ids in sorted(members.values(), key=lambda g: (-len(g), -max(pts[i][1] for i in g))):
        ids = sorted(ids, key=lambda i: -pts[i][1])  # names top to bottom as the points are
        lines = [names[i] for i in ids]
        w = CHAR_PX * max(len(s) for s in lines)
        h = LINE_PX * len(lines)
        # a group's label beside its right-most point, in the middle of its points' height
        anchor = max(ids, key=lambda i: pts[i][0])
        px, py = pts[anchor][0], sum(pts[i][1] for i in ids) / len(ids)
        sides = ("right", "left", "above", "below") if len(ids) > 1 else tuple(_SIDES)
        avoid = placed + [b for k, b in enumerate(marker_boxes) if k not in ids]
        area = (width_px, height_px)
        side = min(sides, key=lambda s: (_cost(_box(px, py, w, h, s), avoid, area), sides.index(s)))
        placed.append(_box(px, py, w, h, side))
        xanchor, yanchor, xshift, yshift = _SIDES[side]
        labels.append(
            Label(
                text="<br>".join(lines),
                x=xs[anchor],
                y=py / sy + y_range[0],
                xanchor=xanchor,
                yanchor=yanchor,
                xshift=xshift,
                yshift=yshift,
            )
        )
    return labels
