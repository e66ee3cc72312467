"""Latency over time as an inline SVG for the load report (suite/load_report.py): p99 per
bucket for each WebSocket message type of a run's summary `timeline` (loadtests/_run.py),
the ramp shaded and the hold's start marked. Hand-written SVG: no plotting dependency, and
the chart stays inside the self-contained HTML report."""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from . import redaction

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 170, 34, 44  # plot margins: y labels, legend, title, x labels
COLOURS = {"connect": "#1f77b4", "join": "#ff7f0e", "heartbeat": "#2ca02c", "broadcast": "#d62728",
           "presence": "#9467bd", "postgres_changes": "#8c564b"}
SPARE = ("#17becf", "#7f7f7f", "#bcbd22", "#e377c2")
LOG_SPREAD = 20  # p99s spanning more than this factor are drawn on a log axis
MAX_DOTS = 200  # buckets of a type beyond which only its line is drawn (a soak run: hours of 10 s)
X_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def _e(value) -> str:
    return escape(redaction.redact(str(value)))


def _x_ticks(end: float) -> list[float]:
    step = next((s for s in X_STEPS if end / s <= 10), X_STEPS[-1])
    return [i * step for i in range(int(end // step) + 1)]


@dataclass(frozen=True)
class Frame:
    """The plot area: seconds since the run's start on x (0..end), p99 ms on y."""
    end: float
    log: bool
    low: float
    high: float
    y_ticks: list[float]
    width: float = WIDTH - LEFT - RIGHT
    height: float = HEIGHT - TOP - BOTTOM

    @classmethod
    def fit(cls, end: float, values: list[float]) -> "Frame":
        """Decades on a log axis when the values span more than LOG_SPREAD, else 1-2-5 steps from 0."""
        positive = [v for v in values if v > 0] or [1.0]
        low, high = min(positive), max(values) if max(values) > 0 else 1.0
        if high / low > LOG_SPREAD:
            lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
            return cls(end, True, 10.0 ** lo, 10.0 ** hi, [10.0 ** e for e in range(lo, hi + 1)])
        raw = high / 5
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
        top = step * math.ceil(high / step)
        return cls(end, False, 0.0, top, [i * step for i in range(int(round(top / step)) + 1)])

    def x(self, seconds: float) -> float:
        return LEFT + self.width * seconds / self.end

    def y(self, ms: float) -> float:
        if self.log:
            share = (math.log10(max(ms, self.low)) - math.log10(self.low)) / math.log10(self.high / self.low)
        else:
            share = ms / self.high
        return TOP + self.height * (1 - share)


def _axes(f: Frame, bucket_s: float) -> list[str]:
    scale = "log scale" if f.log else "linear scale"
    parts = [f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">WebSocket p99 latency per '
             f'{bucket_s:g} s (ms, {scale})</text>']
    for tick in f.y_ticks:
        parts.append(f'<line x1="{LEFT}" y1="{f.y(tick):.1f}" x2="{LEFT + f.width}" y2="{f.y(tick):.1f}" '
                     f'stroke="#ddd"/><text x="{LEFT - 6}" y="{f.y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in _x_ticks(f.end):
        parts.append(f'<text x="{f.x(tick):.1f}" y="{TOP + f.height + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{LEFT + f.width / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                 f'seconds since the run started</text>')
    parts.append(f'<text transform="translate(14 {TOP + f.height / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 f'p99 (ms)</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{f.width}" height="{f.height}" fill="none" stroke="#999"/>')
    return parts


def _ramp(f: Frame, hold: float) -> list[str]:
    """The ramp shaded, the hold's start a dashed line."""
    at = f.x(min(hold, f.end))
    near_end = at > LEFT + f.width - 100  # the label goes left of the line there
    parts = [f'<rect class="ramp" x="{LEFT}" y="{TOP}" width="{at - LEFT:.1f}" height="{f.height}" fill="#eeeeee"/>',
             f'<line class="hold-start" x1="{at:.1f}" y1="{TOP}" x2="{at:.1f}" y2="{TOP + f.height}" stroke="#555" '
             f'stroke-dasharray="5,3"/>',
             f'<text x="{at + (-4 if near_end else 4):.1f}" y="{TOP + 12}" fill="#555" '
             f'text-anchor="{"end" if near_end else "start"}">hold from {hold:g} s</text>']
    if at - LEFT > 40:  # room for the word inside the shaded ramp
        parts.append(f'<text x="{LEFT + 4}" y="{TOP + 12}" fill="#555">ramp</text>')
    return parts


def _series(f: Frame, row: int, kind: str, buckets: list[dict], bucket_s: float, colour: str) -> str:
    """One message type: a line through the buckets' midpoints, a dot (with its figures as a
    tooltip) per bucket unless a long run has too many to tell apart, and its legend entry."""
    xy = [(f.x(b["start_s"] + bucket_s / 2), f.y(b["p99"])) for b in buckets]
    dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"><title>{_e(kind)} '
                   f'{b["start_s"]:g}-{b["start_s"] + bucket_s:g} s: p99 {b["p99"]:g} ms, p50 {b["p50"]:g} ms, '
                   f'{b["count"]} samples</title></circle>' for (px, py), b in zip(xy, buckets)
                   if len(buckets) <= MAX_DOTS)
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in xy)
    legend_x, legend_y = LEFT + f.width + 14, TOP + 10 + 18 * row
    return (f'<g class="series" data-type="{_e(kind)}"><polyline points="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"/>{dots}<line x1="{legend_x}" y1="{legend_y}" x2="{legend_x + 20}" '
            f'y2="{legend_y}" stroke="{colour}" stroke-width="3"/><text x="{legend_x + 26}" y="{legend_y + 4}">'
            f'{_e(kind)}</text></g>')


def chart(timeline: dict | None) -> str:
    """The SVG, or "" when the run has no WebSocket samples to draw."""
    series = {kind: [b for b in rows if b.get("p99") is not None]
              for kind, rows in ((timeline or {}).get("series") or {}).items()}
    series = {kind: rows for kind, rows in series.items() if rows}
    if not series:
        return ""
    bucket_s, hold = timeline["bucket_s"], timeline.get("hold_start_s")
    end = max([timeline.get("end_s") or 0] + [b["start_s"] + bucket_s for rows in series.values() for b in rows])
    frame = Frame.fit(end, [b["p99"] for rows in series.values() for b in rows])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="load-timeline" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11" role="img">']
    parts += _ramp(frame, hold) if hold is not None else []
    parts += _axes(frame, bucket_s)
    spare = iter(SPARE * len(series))
    for row, (kind, rows) in enumerate(series.items()):
        parts.append(_series(frame, row, kind, rows, bucket_s, COLOURS.get(kind) or next(spare)))
    return "".join(parts) + "</svg>"
