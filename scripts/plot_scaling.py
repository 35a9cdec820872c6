#!/usr/bin/env python3
"""Plots how the registry's costs grow with the number of peers, from
registry_bench's Google Benchmark JSON (medians of the repetitions).

    scripts/plot_scaling.py docs/perf/registry_bench.json docs/perf/scaling.svg

Left: nanoseconds per operation against peers (log-log): touch by handle,
touch by key, the unordered_map baseline, expire() with nothing due, and
expire() per expired peer. Right: bytes of memory per peer. Plain SVG.
"""
import json
import math
import sys
from collections import defaultdict

W, H = 430, 320
ML, MB, MT, MR = 60, 45, 30, 20
SERIES = [
    ("touch_by_handle", "touch by handle", "#1f77b4", "real_time"),
    ("touch_by_key", "touch by key", "#d62728", "real_time"),
    ("baseline_map_update", "unordered_map update (baseline)", "#7f7f7f", "real_time"),
    ("expire_nothing_due", "expire(), nothing due", "#2ca02c", "real_time"),
    ("expire_all_due", "expire(), per expired peer", "#9467bd", "ns_per_expired_peer"),
]
MEMORY = [
    ("registry_memory", "registry", "#d62728"),
    ("baseline_map_memory", "unordered_map (baseline)", "#7f7f7f"),
]


def load(path):
    data = json.load(open(path))
    points = defaultdict(dict)  # name -> {n: value}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") not in (None, "median"):
            continue
        name, _, rest = b["run_name"].partition("/")
        if not rest:
            continue
        n = int(rest.split("/")[0])
        points[name][n] = b
    return points


def value(b, field):
    if field == "ns_per_expired_peer":
        return b[field] * 1e9  # the counter is in seconds
    scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
    return b[field] * scale


def axes(out, x0, title, ylabel, ymin, ymax, log_y):
    out.append(f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">{title}</text>')
    out.append(f'<line x1="{x0 + ML}" y1="{H - MB}" x2="{x0 + W - MR}" y2="{H - MB}" stroke="black"/>')
    out.append(f'<line x1="{x0 + ML}" y1="{MT}" x2="{x0 + ML}" y2="{H - MB}" stroke="black"/>')
    out.append(f'<text x="{x0 + W / 2}" y="{H - 8}" text-anchor="middle">peers</text>')
    out.append(f'<text x="{x0 + 14}" y="{H / 2}" text-anchor="middle" transform="rotate(-90 {x0 + 14} {H / 2})">{ylabel}</text>')


def sx(x0, n):
    lo, hi = math.log10(1e3), math.log10(1e6)
    return x0 + ML + (math.log10(n) - lo) / (hi - lo) * (W - ML - MR)


def main(src, dst):
    pts = load(src)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 70}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']
    # Left: time per operation, log-log.
    ylo, yhi = 1.0, 1e4
    def sy(v):
        v = min(max(v, ylo), yhi)
        return H - MB - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * (H - MB - MT)
    axes(out, 0, "cost per operation", "ns (log)", ylo, yhi, True)
    for e in range(0, 5):
        y = sy(10 ** e)
        out.append(f'<line x1="{ML - 4}" y1="{y}" x2="{W - MR}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{ML - 6}" y="{y + 4}" text-anchor="end">{10 ** e}</text>')
    for n in (1000, 100000, 1000000):
        out.append(f'<text x="{sx(0, n)}" y="{H - MB + 15}" text-anchor="middle">{n:,}</text>')
    legend_y = H + 5
    for i, (name, label, color, field) in enumerate(SERIES):
        series = sorted(pts.get(name, {}).items())
        if not series:
            continue
        path = " ".join(f"{sx(0, n):.1f},{sy(value(b, field)):.1f}" for n, b in series)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for n, b in series:
            out.append(f'<circle cx="{sx(0, n):.1f}" cy="{sy(value(b, field)):.1f}" r="3" fill="{color}"/>')
        lx = 10 + (i % 2) * 230
        ly = legend_y + (i // 2) * 16
        out.append(f'<rect x="{lx}" y="{ly}" width="12" height="3" fill="{color}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly + 5}">{label}</text>')
    # Right: bytes per peer, linear.
    x0 = W
    ymax = 250.0
    def sy2(v):
        return H - MB - min(v, ymax) / ymax * (H - MB - MT)
    axes(out, x0, "memory per peer (64-bit key)", "bytes", 0, ymax, False)
    for v in range(0, 251, 50):
        y = sy2(v)
        out.append(f'<line x1="{x0 + ML - 4}" y1="{y}" x2="{x0 + W - MR}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + ML - 6}" y="{y + 4}" text-anchor="end">{v}</text>')
    for n in (1000, 100000, 1000000):
        out.append(f'<text x="{sx(x0, n)}" y="{H - MB + 15}" text-anchor="middle">{n:,}</text>')
    for i, (name, label, color) in enumerate(MEMORY):
        series = sorted(pts.get(name, {}).items())
        if not series:
            continue
        for counter, dash in (("malloc_bytes_per_peer", ""), ("bytes_per_peer", "4,3")):
            path = " ".join(f"{sx(x0, n):.1f},{sy2(b[counter]):.1f}" for n, b in series)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        ly = legend_y + i * 16
        out.append(f'<rect x="{x0 + 10}" y="{ly}" width="12" height="3" fill="{color}"/>')
        out.append(f'<text x="{x0 + 26}" y="{ly + 5}">{label} (solid: malloc, dashed: requested)</text>')
    target = sy2(64)
    out.append(f'<line x1="{x0 + ML}" y1="{target}" x2="{x0 + W - MR}" y2="{target}" stroke="#2ca02c" stroke-dasharray="2,2"/>')
    out.append(f'<text x="{x0 + W - MR}" y="{target - 4}" text-anchor="end" fill="#2ca02c">target 64 B</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
