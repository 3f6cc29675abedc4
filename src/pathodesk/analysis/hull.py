"""Convex hull by Graham scan (SPEC A6 names the algorithm, so it is written here rather than
taken from a library; tests compare it with scipy.spatial.ConvexHull).

Points are sorted by angle around the lowest point (ties: nearer first), then kept on a stack
while they turn left. Collinear points on the hull's edges are dropped, duplicates collapse,
and degenerate inputs give what a polygon writer can still use: one point, or the two ends of
a segment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

Point = tuple[float, float]


def cross(o: Point, a: Point, b: Point) -> float:
    """> 0 when o→a→b turns left (counter-clockwise)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def graham_scan(points: Iterable[Point]) -> list[Point]:
    """Hull vertices counter-clockwise (y up), starting at the lowest, then leftmost, point."""
    unique = sorted({(float(x), float(y)) for x, y in points}, key=lambda p: (p[1], p[0]))
    if len(unique) < 3:
        return unique
    pivot = unique[0]

    def order(p: Point) -> tuple[float, float]:
        return (math.atan2(p[1] - pivot[1], p[0] - pivot[0]), (p[0] - pivot[0]) ** 2 + (p[1] - pivot[1]) ** 2)

    rest = sorted(unique[1:], key=order)
    stack: list[Point] = [pivot]
    for point in rest:
        while len(stack) >= 2 and cross(stack[-2], stack[-1], point) <= 0:
            stack.pop()
        stack.append(point)
    if len(stack) == 2 or (len(stack) >= 3 and all(cross(stack[0], stack[1], p) == 0 for p in stack[2:])):
        return [stack[0], max(unique, key=lambda p: (p[0] - pivot[0]) ** 2 + (p[1] - pivot[1]) ** 2)]
    return stack
