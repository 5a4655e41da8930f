"""Report size and write time at 1,000 x 5 and 10,000 x 34 (devices x rounds), synthetic runs.

    python bench/bench_report.py [--sizes 1000x5,10000x34] [--keep DIR] [--browser]

For each size: a seeded, realistic ``RunReport`` (download times log-normal with a slow tail
and a slight drift round after round; 20 flaky devices that fail a third of the rounds; a few
random FAILED / TIMED_OUT / REJECTED with statusDetails reasons; a rollout curve of ~40 polls a
round, compressed as the runner does), then:

- write: ``write_outputs`` as a run does (results.csv, report.json, things/round-NNN.jsonl,
  report.html), timed as a whole and by part;
- sizes: report.html, report.json and the per-round files;
- re-render: ``ota-deploy report DIR``'s path (read report.json, stream every per-round file,
  draw report.html);
- compare: ``report --compare`` of the run against a 15 % slower copy of itself;
- with ``--browser``: bench/report_browser_check.py opens each report.html in headless
  Chromium and prints the open time (Page.navigate -> load event).

Prints one block of figures per size. Nothing here is asserted: figures, not tests.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from ota_deploy.core.status import RoundStatus
from ota_deploy.deploy.runner import add_sample
from ota_deploy.report.compare import compare_runs
from ota_deploy.report.digest import digest_rounds, fill_download_stats
from ota_deploy.report.html import write_html
from ota_deploy.report.layout import read_report, write_report
from ota_deploy.report.model import CountsSample, RoundReport, RunReport, ThingResult
from ota_deploy.report.results import summarize, write_outputs

T0 = 1_760_000_000.0
REASONS = ("md5 mismatch", "download timeout", "flash write error", "signature invalid")


def synthetic_round(n: int, devices: int, rng: random.Random, slowdown: float) -> RoundReport:
    start = T0 + 600.0 * n
    drift = 1.0 + 0.004 * n  # a little slower every round: what the trend view is for
    things: list[ThingResult] = []
    for d in range(devices):
        name = f"thing-{d:05d}"
        queued = start + rng.uniform(0.0, 2.0)
        started = queued + rng.expovariate(1 / 3.0)
        took = rng.lognormvariate(1.6, 0.28) * drift * slowdown
        if rng.random() < 0.01:
            took *= rng.uniform(2.0, 4.0)  # the slow tail
        status, details = "SUCCEEDED", {}
        roll = rng.random()
        if d < 20 and roll < 0.33:  # the flaky ones
            status, details = "FAILED", {"reason": REASONS[d % len(REASONS)]}
        elif roll < 0.002:
            status, details = "FAILED", {"reason": rng.choice(REASONS), "step": "verify"}
        elif roll < 0.003:
            status = "TIMED_OUT"
        elif roll < 0.0035:
            status, details = "REJECTED", {"reason": "version not newer"}
        finished = started + took
        things.append(
            ThingResult(
                thing_name=name,
                status=status,  # type: ignore[arg-type]
                queued_at=round(queued, 3),
                started_at=round(started, 3),
                finished_at=round(finished, 3),
                duration_sec=round(took, 3),
                status_details=details,
            )
        )
    end = max(t.finished_at or start for t in things) + 2.0
    samples: list[CountsSample] = []
    for k in range(41):  # the runner's polls: counts by status, compressed like add_sample
        t = start + (end - start) * k / 40
        counts: Counter[str] = Counter()
        for th in things:
            if th.finished_at is not None and th.finished_at <= t:
                counts[th.status] += 1
            elif th.started_at is not None and th.started_at <= t:
                counts["IN_PROGRESS"] += 1
            else:
                counts["QUEUED"] += 1
        add_sample(samples, CountsSample(t=t, counts=dict(counts)))  # type: ignore[arg-type]
    final = Counter(str(t.status) for t in things)
    bad = devices - final["SUCCEEDED"]
    return RoundReport(
        round=n,
        job_id=f"StressJob-{n}",
        stream_id=f"StressStream-{n}",
        status=RoundStatus.FAILED if bad else RoundStatus.SUCCEEDED,
        reason=f"{bad} executions did not succeed" if bad else None,
        start=start,
        end=end,
        duration_sec=round(end - start, 3),
        counts=dict(final),  # type: ignore[arg-type]
        things=things,
        samples=samples,
        api_calls=3 + devices // 100,
    )


def synthetic_run(devices: int, rounds: int, seed: int = 12, slowdown: float = 1.0) -> RunReport:
    rng = random.Random(seed)
    out = [synthetic_round(n, devices, rng, slowdown) for n in range(1, rounds + 1)]
    return RunReport(
        tool_version="bench",
        config_file="/bench/dev.ini",
        mode="local",
        region="us-east-1",
        started=T0,
        ended=out[-1].end,
        rounds=out,
        summary=summarize(out, rounds),
    )


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_size(devices: int, rounds: int, work: Path, browser: bool) -> None:
    out = work / f"run-{devices}x{rounds}"
    t = time.perf_counter()
    run = synthetic_run(devices, rounds)
    build_s = time.perf_counter() - t

    t = time.perf_counter()
    write_outputs(run, out)
    write_s = time.perf_counter() - t
    # The same write by part, on a fresh copy of the run (write_outputs filled download_sec).
    part = work / "parts"
    t = time.perf_counter()
    digests = digest_rounds(run, None)
    digest_s = time.perf_counter() - t
    t = time.perf_counter()
    write_report(run, part)
    files_s = time.perf_counter() - t
    t = time.perf_counter()
    write_html(run, part / "report.html", digests=digests)
    html_s = time.perf_counter() - t
    shutil.rmtree(part)
    del run, digests

    t = time.perf_counter()
    again = read_report(out)
    write_html(again, out / "report-rerendered.html", base_dir=out)
    rerender_s = time.perf_counter() - t

    slower = work / "slower"
    write_outputs(synthetic_run(devices, rounds, slowdown=1.15), slower, html=False)
    t = time.perf_counter()
    a, b = read_report(out), read_report(slower)
    fill_download_stats(a, out)
    fill_download_stats(b, slower)
    cmp = compare_runs(a, b)
    compare_s = time.perf_counter() - t
    shutil.rmtree(slower)

    html_bytes = (out / "report.html").stat().st_size
    print(f"== {devices} devices x {rounds} rounds ({devices * rounds} per-thing records)")
    print(f"  report.html          {_mb(html_bytes)}")
    print(f"  report.json          {_mb((out / 'report.json').stat().st_size)}")
    print(f"  things/*.jsonl       {_mb(_tree_size(out / 'things'))} in {rounds} files")
    print(f"  build RunReport      {build_s:.2f} s (synthetic data; a run has it in memory)")
    print(f"  write (run's path)   {write_s:.2f} s  = write_outputs: csv + json + jsonl + html")
    print(f"    digest rounds      {digest_s:.2f} s")
    print(f"    report.json+jsonl  {files_s:.2f} s")
    print(f"    report.html        {html_s:.2f} s")
    print(f"  re-render (report DIR: read + stream jsonl + html)  {rerender_s:.2f} s")
    print(
        f"  report --compare vs 15 % slower  {compare_s:.2f} s, "
        f"{len(cmp.regressions)} regression(s): {', '.join(f.name for f in cmp.regressions)}"
    )
    if browser:
        check = Path(__file__).with_name("report_browser_check.py")
        proc = subprocess.run(
            [sys.executable, str(check), str(out / "report.html"),
             "--screenshot", str(work / f"shot-{devices}x{rounds}.png")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        text = proc.stdout
        summary = json.loads(text[: text.rindex("}") + 1])
        print(
            f"  chromium open        {summary['open_ms']} ms (navigate -> load event); "
            f"load event at {summary['load_event_ms']} ms; {summary['images_drawn']}/"
            f"{summary['images']} charts drawn; console errors {len(summary['console_errors'])}"
            f"; {text.strip().splitlines()[-1]}"
        )
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000x5,10000x34")
    ap.add_argument("--keep", type=Path, help="write the reports here (kept) instead of a temp dir")
    ap.add_argument("--browser", action="store_true", help="open each report.html in Chromium")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ota-bench-report-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for size in args.sizes.split(","):
            devices, rounds = (int(x) for x in size.lower().split("x"))
            bench_size(devices, rounds, work, args.browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
