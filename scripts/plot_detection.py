#!/usr/bin/env python3
"""Plots detection time against false alarms from detection_eval's CSV.

    scripts/plot_detection.py docs/detection.csv docs/detection.svg

One panel per scenario; x is the mean detection time after a crash, y the
false alarms per 1000 beats on a log scale (zero drawn at the floor). Plain
SVG, no plotting library needed.
"""
import csv
import math
import sys
from collections import defaultdict

FLOOR = 0.001  # where "no false alarm" is drawn on the log axis
Y_MAX = 1000.0
X_MAX = 9.0  # seconds
W, H = 330, 300
MARGIN_L, MARGIN_B, MARGIN_T, MARGIN_R = 55, 45, 35, 15
COLORS = {"fixed_misses": "#1f77b4", "phi_accrual": "#d62728", "phi_accrual + acceptable pause": "#2ca02c"}


def main(src, dst):
    rows = defaultdict(list)
    with open(src) as f:
        for r in csv.DictReader(f):
            rows[r["scenario"]].append(r)
    panels = list(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * len(panels)}" height="{H + 30}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>']
    for i, name in enumerate(panels):
        out += panel(rows[name], name, i * W)
    legend_y = H + 18
    for j, (policy, color) in enumerate(COLORS.items()):
        x = 20 + j * 200
        out.append(f'<circle cx="{x}" cy="{legend_y - 4}" r="4" fill="{color}"/>')
        out.append(f'<text x="{x + 8}" y="{legend_y}">{policy}</text>')
    out.append('</svg>')
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


def series(row):
    if "pause" in row["setting"]:
        return "phi_accrual + acceptable pause"
    return row["policy"]


def panel(rows, name, x0):
    pw, ph = W - MARGIN_L - MARGIN_R, H - MARGIN_T - MARGIN_B

    def sx(seconds):
        return x0 + MARGIN_L + pw * min(seconds, X_MAX) / X_MAX

    def sy(rate):
        v = math.log10(max(rate, FLOOR))
        lo, hi = math.log10(FLOOR), math.log10(Y_MAX)
        return MARGIN_T + ph * (hi - v) / (hi - lo)

    svg = [f'<text x="{x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">{name}</text>',
           f'<rect x="{x0 + MARGIN_L}" y="{MARGIN_T}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for s in range(0, int(X_MAX) + 1):
        x = sx(s)
        svg.append(f'<line x1="{x}" y1="{MARGIN_T + ph}" x2="{x}" y2="{MARGIN_T + ph + 4}" stroke="#888"/>')
        svg.append(f'<text x="{x}" y="{MARGIN_T + ph + 16}" text-anchor="middle">{s}</text>')
    for e in range(int(math.log10(FLOOR)), int(math.log10(Y_MAX)) + 1):
        y = sy(10.0 ** e)
        label = "0" if e == int(math.log10(FLOOR)) else f"{10.0 ** e:g}"
        svg.append(f'<line x1="{x0 + MARGIN_L - 4}" y1="{y}" x2="{x0 + MARGIN_L + pw}" y2="{y}" stroke="#eee"/>')
        svg.append(f'<text x="{x0 + MARGIN_L - 6}" y="{y + 4}" text-anchor="end">{label}</text>')
    svg.append(f'<text x="{x0 + MARGIN_L + pw / 2}" y="{H - 8}" text-anchor="middle">'
               'mean detection time after a crash (s)</text>')
    svg.append(f'<text transform="translate({x0 + 14},{MARGIN_T + ph / 2}) rotate(-90)" text-anchor="middle">'
               'false alarms per 1000 beats</text>')
    for policy, color in COLORS.items():
        pts = [(float(r["mean_detection_ms"]) / 1000, float(r["false_alarms_per_1000_beats"]), r["setting"])
               for r in rows if series(r) == policy]
        pts.sort()
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in pts)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for x, y, label in pts:
            svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"><title>{label}</title></circle>')
    return svg


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
