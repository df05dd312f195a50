#!/usr/bin/env python3
"""Writes assets/digit-strokes.json: a small vector font of handwritten-style digits.

Each digit 0-9 has 2-4 hand-designed single-line styles, written the way people draw them
(stroke order and direction included: a 0 starts at the top and turns left, a 7 may have a
crossbar, a 1 a flag, a 4 an open or a closed top). The shapes are built here from lines, arcs
and Bezier curves in unit coordinates (0..1, y down), then every stroke is resampled to points
about 0.015 apart, as a pointer would report them, and rounded to 4 decimals.

The JSON is the data; this script only documents how it was made. Rerun after editing a shape:
    python3 scripts/digit_font.py > assets/digit-strokes.json
"""
import math

STEP = 0.015


def line(*pts):
    return [tuple(p) for p in pts]


def arc(cx, cy, rx, ry, a0, a1, rot=0.0):
    """Ellipse arc from angle a0 to a1 (degrees; 0 = right, 90 = down, y down)."""
    n = max(2, int(abs(a1 - a0) / 4) + 1)
    out = []
    c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    for i in range(n):
        t = math.radians(a0 + (a1 - a0) * i / (n - 1))
        x, y = rx * math.cos(t), ry * math.sin(t)
        out.append((cx + c * x - s * y, cy + s * x + c * y))
    return out


def bezier(p0, p1, p2, p3, n=24):
    out = []
    for i in range(n):
        t = i / (n - 1)
        u = 1 - t
        out.append(tuple(u**3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t**3 * d
                         for a, b, c, d in zip(p0, p1, p2, p3)))
    return out


def join(*parts):
    pts = []
    for part in parts:
        for p in part:
            if not pts or math.dist(pts[-1], p) > 1e-9:
                pts.append(p)
    return pts


def resample(pts):
    """Points about STEP apart along the polyline (a single point stays a dot)."""
    if len(pts) < 2:
        return pts
    out = [pts[0]]
    carry = 0.0
    for a, b in zip(pts, pts[1:]):
        seg = math.dist(a, b)
        d = STEP - carry
        while d <= seg:
            t = d / seg
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
            d += STEP
        carry = seg - (d - STEP)
    if math.dist(out[-1], pts[-1]) > 1e-6:
        out.append(pts[-1])
    return out


def pt(a, c=(0.0, 0.0), rx=1.0, ry=1.0):
    t = math.radians(a)
    return (c[0] + rx * math.cos(t), c[1] + ry * math.sin(t))


def styles():
    s = {d: {} for d in range(10)}
    # 0: started at the top, turning left (counter-clockwise), ends overlapping the start.
    s[0]["oval"] = [arc(0.5, 0.5, 0.27, 0.44, -90, -450)]
    s[0]["round_tilted"] = [arc(0.5, 0.5, 0.32, 0.42, -80, -455, rot=12)]
    s[0]["narrow_gap"] = [arc(0.5, 0.5, 0.2, 0.45, -70, -410)]
    # 1: a stick, with a flag, with a flag and a base.
    s[1]["stick"] = [line((0.5, 0.05), (0.5, 0.95))]
    s[1]["flag"] = [line((0.32, 0.22), (0.55, 0.05), (0.55, 0.95))]
    s[1]["flag_base"] = [line((0.32, 0.22), (0.55, 0.05), (0.55, 0.95)), line((0.32, 0.95), (0.78, 0.95))]
    # 2: round top, diagonal, base; with a loop at the bottom; a Z-like one.
    top = arc(0.5, 0.3, 0.26, 0.24, 190, 375)
    s[2]["classic"] = [join(top, line(top[-1], (0.22, 0.93), (0.82, 0.93)))]
    s[2]["curly"] = [join(top, bezier(top[-1], (0.7, 0.6), (0.35, 0.75), (0.25, 0.88)),
                          arc(0.3, 0.86, 0.07, 0.07, 135, -90), line((0.3, 0.79), (0.55, 0.9), (0.82, 0.92)))]
    s[2]["z_like"] = [join(arc(0.5, 0.22, 0.24, 0.16, 200, 360), bezier((0.74, 0.22), (0.74, 0.4), (0.4, 0.7), (0.2, 0.93)),
                           line((0.2, 0.93), (0.8, 0.93)))]
    # 3: two bumps; a flat top.
    s[3]["two_bumps"] = [join(arc(0.48, 0.28, 0.24, 0.22, 200, 450), arc(0.48, 0.72, 0.27, 0.23, -90, 160))]
    s[3]["flat_top"] = [join(line((0.25, 0.07), (0.74, 0.07), (0.45, 0.4)), arc(0.47, 0.67, 0.28, 0.27, -100, 155))]
    # 4: open top (two strokes); closed top; closed with the bar crossing the stem.
    s[4]["open"] = [line((0.3, 0.05), (0.22, 0.6), (0.82, 0.6)), line((0.66, 0.08), (0.66, 0.95))]
    s[4]["closed"] = [line((0.62, 0.05), (0.18, 0.66), (0.76, 0.66)), line((0.62, 0.05), (0.62, 0.95))]
    s[4]["closed_long_bar"] = [line((0.58, 0.05), (0.18, 0.64), (0.86, 0.64)), line((0.6, 0.3), (0.6, 0.95))]
    # 5: stem + bowl, then the bar; the bar first, all in one stroke.
    bowl = arc(0.47, 0.66, 0.27, 0.27, -150, 150)
    s[5]["two_strokes"] = [join(line((0.3, 0.07), (0.24, 0.52)), bowl), line((0.3, 0.07), (0.76, 0.07))]
    s[5]["one_stroke"] = [join(line((0.76, 0.07), (0.3, 0.07), (0.24, 0.52)), bowl)]
    # 6: a curved stem into the loop; a straight one.
    loop6 = arc(0.5, 0.7, 0.25, 0.24, 180, -165)
    s[6]["curved"] = [join(bezier((0.72, 0.07), (0.42, 0.12), (0.24, 0.42), (0.25, 0.7)), loop6)]
    s[6]["straight"] = [join(line((0.64, 0.05), (0.29, 0.58)), arc(0.5, 0.7, 0.24, 0.24, 210, -150))]
    # 7: plain; with a crossbar; with a serif at the start.
    s[7]["plain"] = [line((0.2, 0.07), (0.8, 0.07), (0.42, 0.95))]
    s[7]["crossbar"] = [line((0.2, 0.07), (0.8, 0.07), (0.42, 0.95)), line((0.38, 0.5), (0.78, 0.5))]
    s[7]["serif"] = [line((0.2, 0.2), (0.2, 0.07), (0.8, 0.07), (0.46, 0.95))]
    # 8: one S-stroke returning to the start; two stacked loops.
    up = arc(0.5, 0.27, 0.22, 0.2, -20, -200)
    down = arc(0.5, 0.72, 0.26, 0.23, -50, 230)
    s[8]["s_stroke"] = [join(up, bezier(up[-1], (0.3, 0.42), (0.7, 0.5), down[0]), down,
                             bezier(down[-1], (0.3, 0.5), (0.7, 0.42), up[0]))]
    s[8]["two_loops"] = [join(arc(0.5, 0.28, 0.2, 0.2, 90, 450), arc(0.5, 0.71, 0.25, 0.23, -90, 270))]
    # 9: loop with a straight stem; with a curved tail.
    loop9 = arc(0.5, 0.3, 0.24, 0.22, 10, -350)
    s[9]["straight_stem"] = [join(loop9, line(loop9[-1], (0.72, 0.95)))]
    s[9]["curved_tail"] = [join(loop9, bezier(loop9[-1], (0.74, 0.6), (0.66, 0.9), (0.38, 0.95)))]
    return s


def main():
    pts = lambda st: "[" + ",".join(f"[{round(x, 4)},{round(y, 4)}]" for x, y in resample(st)) + "]"
    lines = ["{", '  "description": "Handwriting-like single-line digits: for each digit 0-9 a few styles, each a '
             'list of strokes (pointer down to up), each a list of [x, y] points in unit coordinates (0..1, y '
             'down). Made by scripts/digit_font.py.",', '  "digits": [']
    digits = list(styles().items())
    for i, (d, ss) in enumerate(digits):
        lines.append(f'    {{"digit": {d}, "styles": [')
        for j, (name, strokes) in enumerate(ss.items()):
            lines.append(f'      {{"name": "{name}", "strokes": [')
            lines.append(",\n".join("        " + pts(st) for st in strokes))
            lines.append("      ]}" + ("," if j + 1 < len(ss) else ""))
        lines.append("    ]}" + ("," if i + 1 < len(digits) else ""))
    lines += ["  ]", "}"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
