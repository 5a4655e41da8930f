"""Run against run: the trend figures of two runs side by side, and which ones regressed.

Data flow: two ``RunReport``s (A, the baseline; B, the candidate), each round with its
``download_sec`` (``digest.fill_download_stats`` for reports written before it existed) ->
``compare_runs`` -> ``Comparison``: the run figures with a verdict each, and the rounds paired
by number -> ``compare_text`` (terminal), ``html_compare`` (page), ``junit.build_compare_junit``.

A run figure is the median over the run's rounds of that round's figure, so one odd round
does not decide: round duration, download p50, download p95 (judged), download max (shown,
not judged: one device decides it), and the share of executions that did not succeed (judged).

The rule (``Thresholds``): a time figure regresses when B is slower than A by more than
``pct`` percent of A AND by more than ``sec`` seconds -- the relative bound ignores noise on
long rounds, the absolute one ignores a 0.1 s -> 0.2 s "+100 %" on short ones. The share of
executions that did not succeed regresses when it grows by more than ``fail_pct`` percentage
points. The same bounds the other way round mark a figure "improved".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ota_deploy.core.status import ExecutionStatus
from ota_deploy.report.model import RoundReport, RunReport
from ota_deploy.report.stats import median

REGRESSION = "REGRESSION"
IMPROVED = "improved"
OK = "ok"
NOT_AVAILABLE = "n/a"
NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class Thresholds:
    pct: float = 10.0  # relative slowdown allowed, percent of A
    sec: float = 0.5  # absolute slowdown allowed, seconds
    fail_pct: float = 1.0  # growth allowed in the share of executions not succeeded, points

    def time_rule(self) -> str:
        return f"slower by > {self.pct:g} % and > {self.sec:g} s"

    def share_rule(self) -> str:
        return f"up by > {self.fail_pct:g} percentage points"


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str  # "s" or "%"
    a: float | None
    b: float | None
    verdict: str
    rule: str

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    def change_text(self) -> str:
        delta = self.delta
        if delta is None or self.a is None:
            return "-"
        if self.unit == "%":
            return f"{delta:+.2f} pt"
        rel = f" ({delta / self.a * 100:+.1f} %)" if self.a > 0 else ""
        return f"{delta:+.2f} s{rel}"

    def value_text(self, value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.2f} %" if self.unit == "%" else f"{value:.2f} s"


@dataclass
class Comparison:
    label_a: str
    label_b: str
    a: RunReport
    b: RunReport
    thresholds: Thresholds
    figures: list[Figure] = field(default_factory=list)
    rounds: list[tuple[int, RoundReport | None, RoundReport | None]] = field(default_factory=list)

    @property
    def regressions(self) -> list[Figure]:
        return [f for f in self.figures if f.verdict == REGRESSION]


def _ran(report: RunReport) -> list[RoundReport]:
    """The rounds that ran (a planned round recorded as not run has no figures)."""
    return [r for r in report.rounds if r.duration_sec is not None]


def _median_of(report: RunReport, pick: Callable[[RoundReport], float | None]) -> float | None:
    values = [v for v in (pick(r) for r in _ran(report)) if v is not None]
    return median(values)


def not_succeeded_share(report: RunReport) -> float | None:
    """Percent of the run's executions (every round) that did not end SUCCEEDED."""
    total = sum(sum(r.counts.values()) for r in report.rounds)
    if not total:
        return None
    ok = sum(r.counts.get(ExecutionStatus.SUCCEEDED, 0) for r in report.rounds)
    return 100.0 * (total - ok) / total


def judge_time(a: float | None, b: float | None, t: Thresholds) -> str:
    if a is None or b is None:
        return NOT_AVAILABLE
    bound = max(t.sec, t.pct / 100.0 * a)
    if b - a > bound:
        return REGRESSION
    if a - b > bound:
        return IMPROVED
    return OK


def judge_share(a: float | None, b: float | None, t: Thresholds) -> str:
    if a is None or b is None:
        return NOT_AVAILABLE
    if b - a > t.fail_pct:
        return REGRESSION
    if a - b > t.fail_pct:
        return IMPROVED
    return OK


def _download(name: str) -> Callable[[RoundReport], float | None]:
    def pick(r: RoundReport) -> float | None:
        return getattr(r.download_sec, name) if r.download_sec is not None else None

    return pick


def _duration(r: RoundReport) -> float | None:
    return r.duration_sec


# (figure, picker, judged)
TIME_FIGURES: tuple[tuple[str, Callable[[RoundReport], float | None], bool], ...] = (
    ("round duration", _duration, True),
    ("download p50", _download("p50"), True),
    ("download p95", _download("p95"), True),
    ("download max", _download("max"), False),
)


def compare_runs(
    a: RunReport,
    b: RunReport,
    thresholds: Thresholds | None = None,
    *,
    label_a: str = "A",
    label_b: str = "B",
) -> Comparison:
    t = thresholds or Thresholds()
    cmp = Comparison(label_a, label_b, a, b, t)
    for name, pick, judged in TIME_FIGURES:
        va, vb = _median_of(a, pick), _median_of(b, pick)
        verdict = judge_time(va, vb, t) if judged else NOT_JUDGED
        rule = t.time_rule() if judged else "one device decides it"
        cmp.figures.append(Figure(f"{name} (median of rounds)", "s", va, vb, verdict, rule))
    sa, sb = not_succeeded_share(a), not_succeeded_share(b)
    cmp.figures.append(
        Figure("executions not succeeded", "%", sa, sb, judge_share(sa, sb, t), t.share_rule())
    )
    by_a = {r.round: r for r in a.rounds}
    by_b = {r.round: r for r in b.rounds}
    cmp.rounds = [(n, by_a.get(n), by_b.get(n)) for n in sorted(by_a.keys() | by_b.keys())]
    return cmp


def round_cells(r: RoundReport | None) -> list[str]:
    if r is None:
        return ["-"] * 6
    d = r.download_sec
    bad = sum(r.counts.values()) - r.counts.get(ExecutionStatus.SUCCEEDED, 0)
    return [
        str(r.status),
        "-" if r.duration_sec is None else f"{r.duration_sec:.1f}",
        "-" if d is None else f"{d.p50:.2f}",
        "-" if d is None else f"{d.p95:.2f}",
        "-" if d is None else f"{d.max:.2f}",
        str(bad),
    ]


ROUND_COLUMNS = ("status", "duration s", "p50 s", "p95 s", "max s", "not succeeded")


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def compare_text(cmp: Comparison) -> str:
    """The comparison as plain text (a terminal or a CI log): run figures, then per round."""
    lines = [f"A: {cmp.label_a}", f"B: {cmp.label_b}", ""]
    head = ["figure", "A", "B", "change", "verdict", "rule"]
    rows = [head] + [
        [f.name, f.value_text(f.a), f.value_text(f.b), f.change_text(), f.verdict, f.rule]
        for f in cmp.figures
    ]
    lines += _columns(rows)
    lines.append("")
    head = ["round"] + [f"{c} A/B" for c in ROUND_COLUMNS]
    rows = [head]
    for n, ra, rb in cmp.rounds:
        ca, cb = round_cells(ra), round_cells(rb)
        rows.append([str(n)] + [f"{x}/{y}" for x, y in zip(ca, cb, strict=True)])
    lines += _columns(rows)
    verdict = (
        f"{len(cmp.regressions)} regression(s): " + ", ".join(f.name for f in cmp.regressions)
        if cmp.regressions
        else "no regression"
    )
    lines += ["", verdict]
    return "\n".join(lines) + "\n"
