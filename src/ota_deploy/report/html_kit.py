"""The pieces every report page is made of: the stylesheet, escaping, badges, number formats.

Data flow: values from a report (thing names and statusDetails come from devices) -> ``esc``
-> HTML text; report.html (html.py, html_trend.py) and the comparison page (html_compare.py)
build on these, so every page looks alike and nothing reaches the page unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;
  background:#fafafa}
h1{margin:0 0 4px 0;font-size:24px} h2{font-size:19px;margin:28px 0 8px 0}
h3{font-size:15px;margin:14px 0 6px 0}
.muted{color:#666} .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:14px;
  margin:12px 0;overflow-x:auto}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:600}
.s-SUCCEEDED{background:#28a745} .s-FAILED{background:#dc3545} .s-ERROR{background:#6f42c1}
.s-CANCELED{background:#fd7e14} .s-TIMED_OUT{background:#b04ad6} .s-SKIPPED{background:#9e9e9e}
.s-REJECTED{background:#e0a800} .s-INTERRUPTED{background:#6c757d}
.s-REGRESSION{background:#dc3545} .s-ok{background:#28a745} .s-improved{background:#17a2b8}
.s-n-a{background:#9e9e9e}
table{border-collapse:collapse;font-size:13px} td,th{border-bottom:1px solid #e5e5e5;
  padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fff0f0} .charts img{max-width:100%;margin-right:12px;vertical-align:top}
.kv td:first-child{color:#666;padding-right:16px} code{font-size:12px}
summary{cursor:pointer;font-weight:600;margin:6px 0}
table.m td,table.m th{padding:1px 3px;text-align:center;font-size:11px;min-width:14px}
table.m td:first-child{text-align:left;font-size:12px}
table.m td.ok{background:#e3f4e6} table.m td.F{background:#dc3545;color:#fff}
table.m td.T{background:#b04ad6;color:#fff} table.m td.R{background:#e0a800}
table.m td.C{background:#fd7e14} table.m td.S{background:#ffe08a} table.m td.N{background:#ddd}
table.m td.P{background:#17a2b8;color:#fff} table.m td.na{background:#fff}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def badge(status: str) -> str:
    css = status.replace("/", "-").replace(" ", "-")
    return f'<span class="verdict s-{esc(css)}">{esc(status)}</span>'


def img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">' if uri else ""


def kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """Key/value rows; values are HTML already (callers escape what came from the report)."""
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def page(title: str, heading: str, subtitle: str, body: str) -> str:
    """A whole self-contained page: inline CSS, no script, no network."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{esc(heading)}</h1><div class="muted">{esc(subtitle)}</div>'
        f"{body}</body></html>\n"
    )
