"""JUnit XML of a run: one ``<testcase>`` per round, so CI systems show stress results.

Data flow: ``RunReport`` + its ``RoundDigest``s -> ``<testsuites><testsuite name="ota-deploy">``
with one testcase per round (name ``round N (JOB_ID)``, time = round duration). Round status
maps to JUnit outcomes: SUCCEEDED passes; FAILED / CANCELED / TIMED_OUT are ``<failure>`` whose
message lists the things that did not succeed (the first of them; the rest counted, so the XML
stays small at 10,000 things); ERROR is ``<error>`` (infrastructure, not the devices); SKIPPED
(after an earlier failure) and INTERRUPTED (Ctrl-C / SIGTERM) are ``<skipped>``. The planned
rounds that never ran are one skipped testcase per stretch of them (``round 3 (-)``, or
``rounds 3-1000000 (-)`` for many), never one per round: a 1,000,000-round run stopped after
round 2 has three testcases, and building them costs the rounds that ran. Built with
``xml.etree`` so escaping is right. ``report --compare`` writes one testcase per run figure
instead (``build_compare_junit``), so CI can fail on a slowdown. Format reference: the de-facto
Ant/Jenkins JUnit schema (testsuites/testsuite/testcase).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ota_deploy.core.status import RoundStatus
from ota_deploy.report.compare import NOT_AVAILABLE, NOT_JUDGED, REGRESSION, Comparison
from ota_deploy.report.digest import RoundDigest, digest_round, digest_rounds
from ota_deploy.report.model import RoundReport, RunReport, ThingResult

FAILURE_STATUSES = frozenset({RoundStatus.FAILED, RoundStatus.CANCELED, RoundStatus.TIMED_OUT})
# Neither passed nor failed: never ran, or stopped by Ctrl-C / SIGTERM.
NOT_RUN_STATUSES = frozenset({RoundStatus.SKIPPED, RoundStatus.INTERRUPTED})
MAX_THINGS_IN_MESSAGE = 20


def _thing_line(t: ThingResult) -> str:
    details = ", ".join(f"{k}={v}" for k, v in sorted(t.status_details.items()))
    return f"{t.thing_name} {t.status}" + (f" ({details})" if details else "")


def failure_message(rnd: RoundReport, digest: RoundDigest | None = None) -> str:
    """``reason; N of M things did not succeed: a FAILED (reason=x), b TIMED_OUT, ...``."""
    digest = digest if digest is not None else digest_round(rnd.things)
    parts = []
    if rnd.reason:
        parts.append(rnd.reason)
    bad = digest.not_succeeded
    if bad:
        listed = "; ".join(_thing_line(t) for t in digest.listed[:MAX_THINGS_IN_MESSAGE])
        shown = min(len(digest.listed), MAX_THINGS_IN_MESSAGE)
        more = f"; ... {bad - shown} more" if bad > shown else ""
        parts.append(f"{bad} of {digest.total} things did not succeed: {listed}{more}")
    return "; ".join(parts) or f"round ended {rnd.status}"


def _failure_text(digest: RoundDigest) -> str:
    """One line per listed thing (at most digest.LISTED_MAX), then how many more there are."""
    lines = [_thing_line(t) for t in digest.listed]
    if digest.not_succeeded > len(digest.listed):
        lines.append(f"... {digest.not_succeeded - len(digest.listed)} more")
    return "\n".join(lines)


def _testcase(
    suite: ET.Element, rnd: RoundReport, classname: str, digest: RoundDigest, name: str
) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=classname,
        name=name,
        time=f"{rnd.duration_sec or 0.0:.3f}",
    )
    if rnd.status in FAILURE_STATUSES:
        message = failure_message(rnd, digest)
        el = ET.SubElement(case, "failure", message=message, type=rnd.status)
        el.text = _failure_text(digest)
    elif rnd.status == RoundStatus.ERROR:
        message = failure_message(rnd, digest)
        el = ET.SubElement(case, "error", message=message, type=RoundStatus.ERROR)
        el.text = rnd.reason or ""
    elif rnd.status in NOT_RUN_STATUSES:
        ET.SubElement(case, "skipped", message=rnd.reason or "skipped after an earlier failure")
    counts = ", ".join(f"{k}={v}" for k, v in rnd.counts.items() if v)
    out = ET.SubElement(case, "system-out")
    out.text = f"job {rnd.job_id} stream {rnd.stream_id}: {counts or 'no executions'}"


def build_junit(
    report: RunReport,
    *,
    digests: Sequence[RoundDigest] | None = None,
    base_dir: Path | None = None,
) -> ET.Element:
    """The run's JUnit tree; ``digests`` as for ``html.render_html`` (made when not given)."""
    if digests is None:
        digests = digest_rounds(report, base_dir)
    by_round = {r.round: d for r, d in zip(report.rounds, digests, strict=True)}
    suites = ET.Element("testsuites", name="ota-deploy")
    classname = "ota-deploy." + (Path(report.config_file).stem if report.config_file else "run")
    cases = [(r, f"round {r.round} ({r.job_id})") for r in report.rounds]
    # Rounds the run planned but never reached: one skipped testcase per stretch of them.
    reason = report.not_run.reason if report.not_run else "not run"
    for first, last in not_run_spans((r.round for r in report.rounds), report.summary.total):
        count = last - first + 1
        gap = RoundReport(
            round=first,
            job_id="-",
            stream_id="-",
            status=RoundStatus.SKIPPED,
            reason=reason if count == 1 else f"{count} planned rounds not run: {reason}",
            start=report.started,
        )
        cases.append((gap, f"round {first} (-)" if count == 1 else f"rounds {first}-{last} (-)"))
    cases.sort(key=lambda case: case[0].round)
    rounds = [rnd for rnd, _ in cases]
    failures = sum(1 for r in rounds if r.status in FAILURE_STATUSES)
    errors = sum(1 for r in rounds if r.status == RoundStatus.ERROR)
    skipped = sum(1 for r in rounds if r.status in NOT_RUN_STATUSES)
    total_time = sum(r.duration_sec or 0.0 for r in rounds)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="ota-deploy",
        tests=str(len(rounds)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{total_time:.3f}",
        timestamp=datetime.fromtimestamp(report.started, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("mode", report.mode),
        ("region", report.region),
        ("config", report.config_file or ""),
        ("tool_version", report.tool_version),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for rnd, name in cases:
        _testcase(suite, rnd, classname, by_round.get(rnd.round, RoundDigest()), name)
    suites.set("tests", str(len(rounds)))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    suites.set("time", f"{total_time:.3f}")
    return suites


def not_run_spans(ran: Iterable[int], planned: int) -> list[tuple[int, int]]:
    """The rounds of 1..``planned`` missing from ``ran``, as (first, last) stretches, found
    from the rounds that ran alone (never by counting through the planned ones)."""
    spans: list[tuple[int, int]] = []
    expected = 1
    for n in sorted(set(ran)):
        if n > planned:
            break
        if n > expected:
            spans.append((expected, n - 1))
        expected = max(expected, n + 1)
    if expected <= planned:
        spans.append((expected, planned))
    return spans


def write_junit(
    report: RunReport,
    path: Path,
    *,
    digests: Sequence[RoundDigest] | None = None,
    base_dir: Path | None = None,
) -> None:
    """Write the JUnit XML for ``report`` to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_junit(report, digests=digests, base_dir=base_dir))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def build_compare_junit(cmp: Comparison) -> ET.Element:
    """``report --compare``'s JUnit: one testcase per run figure; a regression is a
    ``<failure>``, a figure not judged (or missing from a run) is ``<skipped>``."""
    suites = ET.Element("testsuites", name="ota-deploy compare")
    failures = len(cmp.regressions)
    skipped = sum(1 for f in cmp.figures if f.verdict in (NOT_JUDGED, NOT_AVAILABLE))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="ota-deploy.compare",
        tests=str(len(cmp.figures)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
    )
    props = ET.SubElement(suite, "properties")
    t = cmp.thresholds
    for name, value in (
        ("run_a", cmp.label_a),
        ("run_b", cmp.label_b),
        ("threshold_pct", f"{t.pct:g}"),
        ("threshold_sec", f"{t.sec:g}"),
        ("threshold_fail_pct", f"{t.fail_pct:g}"),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for fig in cmp.figures:
        case = ET.SubElement(suite, "testcase", classname="ota-deploy.compare", name=fig.name)
        text = (
            f"{fig.name}: A {fig.value_text(fig.a)}, B {fig.value_text(fig.b)}, "
            f"change {fig.change_text()} ({fig.rule})"
        )
        if fig.verdict == REGRESSION:
            ET.SubElement(case, "failure", message=text, type=REGRESSION).text = text
        elif fig.verdict in (NOT_JUDGED, NOT_AVAILABLE):
            ET.SubElement(case, "skipped", message=f"{fig.verdict}: {text}")
        else:
            ET.SubElement(case, "system-out").text = f"{fig.verdict}: {text}"
    suites.set("tests", str(len(cmp.figures)))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    return suites


def write_compare_junit(cmp: Comparison, path: Path) -> None:
    """Write ``report --compare``'s JUnit XML to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_compare_junit(cmp))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
