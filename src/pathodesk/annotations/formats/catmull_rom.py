"""ASAP's splines as ASAP draws them: a closed centripetal Catmull-Rom curve through the
control points (ASAP's PolyQtAnnotation samples each segment the same way). Written here
because neither shapely nor scipy has this curve; tested against its defining properties
(it passes through every control point, and a circle's control points give a circle)."""

from __future__ import annotations

import numpy as np

ALPHA = 0.5  # centripetal: no cusps or self-crossings within a segment
SAMPLES_PER_SEGMENT = 16


def closed_catmull_rom(
    points: list[tuple[float, float]], samples: int = SAMPLES_PER_SEGMENT
) -> list[tuple[float, float]]:
    """Points along the closed curve, ``samples`` per segment, starting at the first point.
    Repeated control points are dropped; where the curve cannot be computed in floating point
    (coordinates near the float limit) the control polygon itself is returned, for the
    geometry checks downstream to judge."""
    control = np.asarray(points, dtype=np.float64)
    as_given = [(float(x), float(y)) for x, y in control]
    if not np.isfinite(control).all():
        return as_given
    control = control[np.any(control != np.roll(control, 1, axis=0), axis=1)]
    count = len(control)
    if count < 3:
        return as_given
    out: list[tuple[float, float]] = []
    for i in range(count):
        p0, p1, p2, p3 = (control[(i + k) % count] for k in (-1, 0, 1, 2))
        t0 = 0.0
        t1 = t0 + max(float(np.linalg.norm(p1 - p0)) ** ALPHA, 1e-9)
        t2 = t1 + max(float(np.linalg.norm(p2 - p1)) ** ALPHA, 1e-9)
        t3 = t2 + max(float(np.linalg.norm(p3 - p2)) ** ALPHA, 1e-9)
        for t in np.linspace(t1, t2, samples, endpoint=False):
            a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
            a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
            a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
            b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
            b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
            c = (t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2
            out.append((float(c[0]), float(c[1])))
    return out if np.isfinite(out).all() else as_given
