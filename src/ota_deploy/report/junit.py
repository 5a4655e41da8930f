"""JUnit XML of a run: one ``<testcase>`` per round, so CI systems show stress results.

Data flow: ``RunReport`` -> ``<testsuites><testsuite name="ota-deploy">`` with one testcase per
round (name ``round N (JOB_ID)``, time = round duration). Round status maps to JUnit outcomes:
SUCCEEDED passes; FAILED / CANCELED / TIMED_OUT are ``<failure>`` whose message lists the
things that did not succeed; ERROR is ``<error>`` (infrastructure, not the devices); SKIPPED
(after an earlier failure) is ``<skipped>``. Built with ``xml.etree`` so escaping is right.
Format reference: the de-facto Ant/Jenkins JUnit schema (testsuites/testsuite/testcase).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from ota_deploy.core.status import ExecutionStatus, RoundStatus
from ota_deploy.report.model import RoundReport, RunReport, ThingResult

FAILURE_STATUSES = frozenset({RoundStatus.FAILED, RoundStatus.CANCELED, RoundStatus.TIMED_OUT})
MAX_THINGS_IN_MESSAGE = 20


def _thing_line(t: ThingResult) -> str:
    details = ", ".join(f"{k}={v}" for k, v in sorted(t.status_details.items()))
    return f"{t.thing_name} {t.status}" + (f" ({details})" if details else "")


def failure_message(rnd: RoundReport) -> str:
    """``reason; N of M things did not succeed: a FAILED (reason=x), b TIMED_OUT, ...``."""
    bad = [t for t in rnd.things if t.status != ExecutionStatus.SUCCEEDED]
    parts = []
    if rnd.reason:
        parts.append(rnd.reason)
    if bad:
        listed = "; ".join(_thing_line(t) for t in bad[:MAX_THINGS_IN_MESSAGE])
        more = (
            f"; ... {len(bad) - MAX_THINGS_IN_MESSAGE} more"
            if len(bad) > MAX_THINGS_IN_MESSAGE
            else ""
        )
        parts.append(f"{len(bad)} of {len(rnd.things)} things did not succeed: {listed}{more}")
    return "; ".join(parts) or f"round ended {rnd.status}"


def _testcase(suite: ET.Element, rnd: RoundReport, classname: str) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=classname,
        name=f"round {rnd.round} ({rnd.job_id})",
        time=f"{rnd.duration_sec or 0.0:.3f}",
    )
    if rnd.status in FAILURE_STATUSES:
        el = ET.SubElement(case, "failure", message=failure_message(rnd), type=rnd.status)
        el.text = "\n".join(
            _thing_line(t) for t in rnd.things if t.status != ExecutionStatus.SUCCEEDED
        )
    elif rnd.status == RoundStatus.ERROR:
        el = ET.SubElement(case, "error", message=failure_message(rnd), type=RoundStatus.ERROR)
        el.text = rnd.reason or ""
    elif rnd.status == RoundStatus.SKIPPED:
        ET.SubElement(case, "skipped", message=rnd.reason or "skipped after an earlier failure")
    counts = ", ".join(f"{k}={v}" for k, v in rnd.counts.items() if v)
    out = ET.SubElement(case, "system-out")
    out.text = f"job {rnd.job_id} stream {rnd.stream_id}: {counts or 'no executions'}"


def build_junit(report: RunReport) -> ET.Element:
    suites = ET.Element("testsuites", name="ota-deploy")
    classname = "ota-deploy." + (Path(report.config_file).stem if report.config_file else "run")
    rounds = list(report.rounds)
    # Rounds the run planned but never reached are reported as skipped too.
    reached = {r.round for r in rounds}
    for n in range(1, report.summary.total + 1):
        if n not in reached:
            rounds.append(
                RoundReport(
                    round=n,
                    job_id="-",
                    stream_id="-",
                    status=RoundStatus.SKIPPED,
                    reason="not run",
                    start=report.started,
                )
            )
    rounds.sort(key=lambda r: r.round)
    failures = sum(1 for r in rounds if r.status in FAILURE_STATUSES)
    errors = sum(1 for r in rounds if r.status == RoundStatus.ERROR)
    skipped = sum(1 for r in rounds if r.status == RoundStatus.SKIPPED)
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
    for rnd in rounds:
        _testcase(suite, rnd, classname)
    suites.set("tests", str(len(rounds)))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    suites.set("time", f"{total_time:.3f}")
    return suites


def write_junit(report: RunReport, path: Path) -> None:
    """Write the JUnit XML for ``report`` to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_junit(report))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
