#!/usr/bin/env python3
"""Generate crmsync's app icon and tray-state icons (standard library only).

Run from anywhere: `python3 icons/generate.py`. The PNGs are committed; rerun
this script only when the artwork changes. Output is deterministic.

Shapes are drawn as signed distance fields (distance in pixels, negative
inside), so every size is antialiased with one sample per pixel.

Tray states differ by outline shape *and* glyph, not only by colour:
  ok       green circle, check mark
  syncing  blue circle, two circular arrows
  warning  amber triangle, exclamation mark
  error    red octagon, cross
  paused   grey rounded square, two pause bars
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
INK: Color = (17, 24, 39)  # near-black glyph on the amber warning sign


# --- signed distance functions, in unit coordinates (0..1 across the icon) ---


def circle(cx: float, cy: float, r: float):
    return lambda x, y: math.hypot(x - cx, y - cy) - r


def rounded_box(cx: float, cy: float, hw: float, hh: float, r: float):
    def sdf(x: float, y: float) -> float:
        qx = abs(x - cx) - hw + r
        qy = abs(y - cy) - hh + r
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        return outside + min(max(qx, qy), 0.0) - r

    return sdf


def _segment_distance(x, y, ax, ay, bx, by) -> float:
    px, py, dx, dy = x - ax, y - ay, bx - ax, by - ay
    t = max(0.0, min(1.0, (px * dx + py * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - dx * t, py - dy * t)


def stroke(points, width: float):
    """A polyline with round caps and joins."""
    segments = list(zip(points, points[1:]))
    half = width / 2

    def sdf(x: float, y: float) -> float:
        return min(_segment_distance(x, y, *a, *b) for a, b in segments) - half

    return sdf


def polygon(points, rounding: float = 0.0):
    """Any simple polygon; `rounding` grows it by that radius with round corners."""
    n = len(points)

    def sdf(x: float, y: float) -> float:
        d = min(_segment_distance(x, y, *points[i], *points[(i + 1) % n]) for i in range(n))
        inside = False
        j = n - 1
        for i in range(n):
            (xi, yi), (xj, yj) = points[i], points[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
        return (-d if inside else d) - rounding

    return sdf


def arc(cx, cy, r, start_deg, end_deg, width):
    """A circular arc stroke from start to end angle (degrees, clockwise on screen)."""
    a0, a1 = math.radians(start_deg), math.radians(end_deg)
    ends = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (a0, a1)]
    half = width / 2

    def sdf(x: float, y: float) -> float:
        ang = math.atan2(y - cy, x - cx)
        rel = (ang - a0) % (2 * math.pi)
        if rel <= (a1 - a0) % (2 * math.pi):
            return abs(math.hypot(x - cx, y - cy) - r) - half
        return min(math.hypot(x - ex, y - ey) for ex, ey in ends) - half

    return sdf


def arrowhead(cx, cy, r, at_deg, size):
    """A triangle at angle `at_deg` on a circle, pointing clockwise along it."""
    a = math.radians(at_deg)
    px, py = cx + r * math.cos(a), cy + r * math.sin(a)
    tx, ty = -math.sin(a), math.cos(a)  # clockwise tangent (y grows downward)
    nx, ny = math.cos(a), math.sin(a)
    tip = (px + tx * size, py + ty * size)
    return polygon([tip, (px + nx * size, py + ny * size), (px - nx * size, py - ny * size)])


def union(*sdfs):
    return lambda x, y: min(f(x, y) for f in sdfs)


def subtract(a, b):
    return lambda x, y: max(a(x, y), -b(x, y))


def regular_polygon(cx, cy, r, sides, rotation_deg):
    return [
        (
            cx + r * math.cos(math.radians(rotation_deg + 360 * i / sides)),
            cy + r * math.sin(math.radians(rotation_deg + 360 * i / sides)),
        )
        for i in range(sides)
    ]


# --- rasteriser and PNG writer ---


def render(size: int, layers) -> bytes:
    """Composite (sdf, colour) layers bottom-up; returns RGBA rows."""
    out = bytearray()
    for py in range(size):
        out.append(0)  # PNG filter type: none
        for px in range(size):
            x, y = (px + 0.5) / size, (py + 0.5) / size
            r = g = b = a = 0.0  # premultiplied
            for sdf, (cr, cg, cb) in layers:
                cov = min(1.0, max(0.0, 0.5 - sdf(x, y) * size))
                if cov:
                    r = cr * cov + r * (1 - cov)
                    g = cg * cov + g * (1 - cov)
                    b = cb * cov + b * (1 - cov)
                    a = 255 * cov + a * (1 - cov)
            if a:
                k = 255 / a
                out += bytes((round(r * k), round(g * k), round(b * k), round(a)))
            else:
                out += b"\0\0\0\0"
    return bytes(out)


def write_png(path: Path, size: int, layers) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    data = zlib.compress(render(size, layers), 9)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


# --- artwork ---


def app_icon_layers():
    blue: Color = (37, 99, 235)
    green: Color = (22, 163, 74)
    background = rounded_box(0.5, 0.5, 0.45, 0.45, 0.1)
    envelope = subtract(
        rounded_box(0.44, 0.46, 0.29, 0.2, 0.04), rounded_box(0.44, 0.46, 0.235, 0.145, 0.01)
    )
    flap = stroke([(0.18, 0.3), (0.44, 0.5), (0.70, 0.3)], 0.055)
    badge = circle(0.73, 0.72, 0.17)
    sync = union(
        arc(0.73, 0.72, 0.095, 200, 340, 0.04),
        arc(0.73, 0.72, 0.095, 20, 160, 0.04),
        arrowhead(0.73, 0.72, 0.095, 340, 0.045),
        arrowhead(0.73, 0.72, 0.095, 160, 0.045),
    )
    return [
        (background, blue),
        (envelope, WHITE),
        (flap, WHITE),
        (circle(0.73, 0.72, 0.2), blue),  # gap between envelope and badge
        (badge, green),
        (sync, WHITE),
    ]


def tray_layers(state: str):
    if state == "ok":
        return [
            (circle(0.5, 0.5, 0.46), (22, 163, 74)),
            (stroke([(0.28, 0.52), (0.44, 0.68), (0.73, 0.36)], 0.13), WHITE),
        ]
    if state == "syncing":
        c, r, w = 0.5, 0.25, 0.1
        return [
            (circle(0.5, 0.5, 0.46), (37, 99, 235)),
            (
                union(
                    arc(c, c, r, 195, 330, w),
                    arc(c, c, r, 15, 150, w),
                    arrowhead(c, c, r, 330, 0.12),
                    arrowhead(c, c, r, 150, 0.12),
                ),
                WHITE,
            ),
        ]
    if state == "warning":
        tri = [(0.5, 0.1), (0.92, 0.86), (0.08, 0.86)]
        return [
            (polygon(tri, 0.04), (245, 158, 11)),
            (stroke([(0.5, 0.36), (0.5, 0.58)], 0.12), INK),
            (circle(0.5, 0.73, 0.065), INK),
        ]
    if state == "error":
        return [
            (polygon(regular_polygon(0.5, 0.5, 0.47, 8, 22.5), 0.01), (220, 38, 38)),
            (stroke([(0.32, 0.32), (0.68, 0.68)], 0.13), WHITE),
            (stroke([(0.68, 0.32), (0.32, 0.68)], 0.13), WHITE),
        ]
    if state == "paused":
        return [
            (rounded_box(0.5, 0.5, 0.43, 0.43, 0.12), (75, 85, 99)),
            (rounded_box(0.38, 0.5, 0.065, 0.23, 0.03), WHITE),
            (rounded_box(0.62, 0.5, 0.065, 0.23, 0.03), WHITE),
        ]
    raise ValueError(state)


TRAY_STATES = ("ok", "syncing", "warning", "error", "paused")
TRAY_SIZE = 32


def main() -> None:
    for name, size in (("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)):
        write_png(HERE / name, size, app_icon_layers())
    for state in TRAY_STATES:
        write_png(HERE / f"tray-{state}.png", TRAY_SIZE, tray_layers(state))
    print(f"wrote app icons and {len(TRAY_STATES)} tray icons to {HERE}")


if __name__ == "__main__":
    main()
