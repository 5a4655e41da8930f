"""A tiny SVG plotting kit for report.html: axes with nice ticks, step areas, bars, a legend.

Why not matplotlib: a 34-round report needs ~70 charts; matplotlib costs ~1 s to import and
~0.2-0.5 s per figure, SVG text costs microseconds, stays sharp at any zoom and needs no
dependency. Charts are returned as ``data:image/svg+xml;base64,...`` URIs for ``<img>``, so the
page stays self-contained and each chart is isolated from the page's CSS.

Data flow: ``Plot(x_range, y_range)`` maps data coordinates into a fixed pixel box;
``step_area``, ``bar``, ``stacked_bar``, ``line``, ``legend`` append SVG elements; ``to_uri()``
closes the document.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

FONT = "font-family='DejaVu Sans,Helvetica,Arial,sans-serif'"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def nice_ceiling(value: float) -> float:
    """The first nice tick at or above ``value`` (the top of a y axis that starts at 0)."""
    ticks = nice_ticks(0.0, value)
    if ticks[-1] >= value * (1 - 1e-9):
        return ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else value
    return ticks[-1] + step


def fmt_tick(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


class Plot:
    def __init__(
        self,
        *,
        title: str,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        x_label: str,
        y_label: str,
        width: int = 560,
        height: int = 260,
        bottom_extra: int = 0,
        numeric_x: bool = True,
    ) -> None:
        self.width, self.height = width, height + bottom_extra
        self.left, self.right, self.top = 52, width - 14, 28
        self.bottom = height - 40
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        self.parts: list[str] = []
        self.title = title
        self._frame(title, x_label, y_label, numeric_x)

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def sy(self, y: float) -> float:
        return self.bottom - (y - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)

    def _text(
        self, x: float, y: float, text: str, anchor: str = "middle", size: int = 11, **attrs: str
    ) -> None:
        extra = "".join(f" {k.replace('_', '-')}='{v}'" for k, v in attrs.items())
        self.parts.append(
            f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' {FONT} font-size='{size}' "
            f"fill='#333'{extra}>{escape(text)}</text>"
        )

    def _frame(self, title: str, x_label: str, y_label: str, numeric_x: bool) -> None:
        self._text(self.width / 2, 17, title, size=13, font_weight="bold")
        for t in nice_ticks(self.y0, self.y1):
            if self.y0 <= t <= self.y1:
                y = self.sy(t)
                self.parts.append(
                    f"<line x1='{self.left}' x2='{self.right}' y1='{y:.1f}' y2='{y:.1f}' "
                    "stroke='#e3e3e3'/>"
                )
                self._text(self.left - 6, y + 4, fmt_tick(t), anchor="end")
        if numeric_x:
            self.x_ticks(nice_ticks(self.x0, self.x1, 6))
        self._text((self.left + self.right) / 2, self.bottom + 32, x_label)
        cy = (self.top + self.bottom) / 2
        self._text(14, cy, y_label, transform=f"rotate(-90 14 {cy:.1f})")

    def x_ticks(self, ticks: Sequence[float], labels: Sequence[str] | None = None) -> None:
        for i, t in enumerate(ticks):
            if not self.x0 - 1e-9 <= t <= self.x1 + 1e-9:
                continue
            x = self.sx(t)
            self.parts.append(
                f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{self.bottom}' y2='{self.bottom + 4}' "
                "stroke='#555'/>"
            )
            self._text(x, self.bottom + 16, labels[i] if labels else fmt_tick(t))

    def step_area(self, xs: Sequence[float], lower: Sequence[float], upper: Sequence[float],
                  color: str) -> None:  # fmt: skip
        """A band between two step functions (each value holds until the next x)."""
        top: list[tuple[float, float]] = []
        bottom: list[tuple[float, float]] = []
        for i, x in enumerate(xs):
            nxt = xs[i + 1] if i + 1 < len(xs) else x
            top += [(x, upper[i]), (nxt, upper[i])]
            bottom += [(x, lower[i]), (nxt, lower[i])]
        points = top + bottom[::-1]
        coords = " ".join(f"{self.sx(x):.1f},{self.sy(y):.1f}" for x, y in points)
        self.parts.append(f"<polygon points='{coords}' fill='{color}' stroke='none'/>")

    def bar(self, x_left: float, x_right: float, height: float, color: str) -> None:
        x, w = self.sx(x_left), self.sx(x_right) - self.sx(x_left)
        y = self.sy(height)
        self.parts.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 0.5):.1f}' "
            f"height='{max(self.bottom - y, 0):.1f}' fill='{color}' stroke='white' "
            "stroke-width='0.5'/>"
        )

    def stacked_bar(
        self, x_left: float, x_right: float, low: float, high: float, color: str
    ) -> None:
        """A bar from ``low`` to ``high`` (one segment of a stacked bar)."""
        x, w = self.sx(x_left), self.sx(x_right) - self.sx(x_left)
        y_top, y_low = self.sy(high), self.sy(low)
        self.parts.append(
            f"<rect x='{x:.1f}' y='{y_top:.1f}' width='{max(w, 0.5):.1f}' "
            f"height='{max(y_low - y_top, 0):.1f}' fill='{color}'/>"
        )

    def line(
        self,
        xs: Sequence[float],
        ys: Sequence[float | None],
        color: str,
        *,
        dashed: bool = False,
        markers: bool = True,
    ) -> None:
        """A polyline through the points that have a value (a None breaks the line)."""
        dash = " stroke-dasharray='6 4'" if dashed else ""
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in zip(xs, ys, strict=True):
            if y is None:
                runs.append([])
            else:
                runs[-1].append((self.sx(x), self.sy(y)))
        for run in runs:
            if len(run) > 1:
                coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                self.parts.append(
                    f"<polyline points='{coords}' fill='none' stroke='{color}' "
                    f"stroke-width='2'{dash}/>"
                )
            if markers or len(run) == 1:
                self.parts.extend(
                    f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{color}'/>" for x, y in run
                )

    def legend(self, items: Sequence[tuple[str, str]]) -> None:
        """Colour swatches in one row under the x label."""
        x = self.left
        y = self.bottom + 50
        for label, color in items:
            self.parts.append(f"<rect x='{x}' y='{y - 9}' width='10' height='10' fill='{color}'/>")
            self._text(x + 14, y, label, anchor="start")
            x += 24 + 8 * len(label)

    def to_svg(self) -> str:
        axes = (
            f"<line x1='{self.left}' x2='{self.right}' y1='{self.bottom}' y2='{self.bottom}' "
            f"stroke='#555'/><line x1='{self.left}' x2='{self.left}' y1='{self.top}' "
            f"y2='{self.bottom}' stroke='#555'/>"
        )
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width}' "
            f"height='{self.height}' viewBox='0 0 {self.width} {self.height}'>"
            f"<title>{escape(self.title)}</title>"
            f"<rect width='100%' height='100%' fill='white'/>{''.join(self.parts)}{axes}</svg>"
        )

    def to_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.to_svg().encode()).decode()
