"""The comparison page of ``report --compare RUN_A RUN_B --html FILE``: two runs side by side.

Data flow: ``compare.Comparison`` -> the run figures with their verdicts (regressions in red),
two charts (download p50/p95 per round for A and B; round durations for A and B) and one row
per round with A's and B's figures next to each other -> one self-contained page (inline CSS
and SVG, no script, no network), like report.html.
"""

from __future__ import annotations

from ota_deploy.report import charts
from ota_deploy.report.compare import REGRESSION, ROUND_COLUMNS, Comparison, round_cells
from ota_deploy.report.html_kit import badge, esc, fmt_time, img, kv_table, page


def _figures(cmp: Comparison) -> str:
    head = (
        "<tr><th>figure</th><th class=num>A</th><th class=num>B</th><th class=num>change</th>"
        "<th>verdict</th><th>rule</th></tr>"
    )
    rows = "".join(
        f"<tr{' class=bad' if f.verdict == REGRESSION else ''}><td>{esc(f.name)}</td>"
        f"<td class=num>{esc(f.value_text(f.a))}</td><td class=num>{esc(f.value_text(f.b))}</td>"
        f"<td class=num>{esc(f.change_text())}</td><td>{badge(f.verdict)}</td>"
        f"<td>{esc(f.rule)}</td></tr>"
        for f in cmp.figures
    )
    return f"<table>{head}{rows}</table>"


def _rounds(cmp: Comparison) -> str:
    head = "<tr><th>round</th>" + "".join(
        f"<th class=num>{esc(c)} A</th><th class=num>B</th>" for c in ROUND_COLUMNS
    )
    rows = []
    for n, ra, rb in cmp.rounds:
        pairs = zip(round_cells(ra), round_cells(rb), strict=True)
        cells = "".join(f"<td class=num>{esc(x)}</td><td class=num>{esc(y)}</td>" for x, y in pairs)
        rows.append(f"<tr><td>{n}</td>{cells}</tr>")
    return f"<table>{head}</tr>{''.join(rows)}</table>"


def render_compare_html(cmp: Comparison) -> str:
    verdict = REGRESSION if cmp.regressions else "ok"
    runs = kv_table(
        [
            ("result", badge(verdict)),
            ("A (baseline)", f"<code>{esc(cmp.label_a)}</code> started {fmt_time(cmp.a.started)}"),
            ("B", f"<code>{esc(cmp.label_b)}</code> started {fmt_time(cmp.b.started)}"),
            ("rounds", f"A {len(cmp.a.rounds)}, B {len(cmp.b.rounds)}"),
        ]
    )
    pictures = [
        img(charts.compare_download_chart(cmp.rounds), "download time per round, A vs B"),
        img(charts.compare_durations_chart(cmp.rounds), "round durations, A vs B"),
    ]
    body = (
        f'<div class="card">{runs}</div>'
        '<div class="card"><h2>Run figures</h2><p class="muted">Each is the median over the '
        "run's rounds of that round's figure; download time is started → finished of the "
        f"executions that SUCCEEDED.</p>{_figures(cmp)}</div>"
        f'<div class="card"><h2>Per round</h2><div class="charts">{"".join(pictures)}</div>'
        f"{_rounds(cmp)}</div>"
    )
    return page(f"ota-deploy compare: {verdict}", "OTA run comparison", "", body)
