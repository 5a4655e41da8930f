"""Open a demo's report.html in headless Chromium: no console errors, charts drawn, a screenshot.

    python bench/report_browser_check.py [REPORT_HTML] [--screenshot OUT.png]

Without REPORT_HTML it first runs ``ota-deploy demo --devices 5 --rounds 2`` in a temp folder.
Chromium (``apt-get install -y chromium``) runs headless with networking features off and a
throw-away profile; the check talks the DevTools protocol over its WebSocket (aiohttp):
Runtime/Log events give console errors and exceptions; ``document.images`` tells whether each
chart decoded (naturalWidth > 0); Page.captureScreenshot saves the whole page. The open time is
the wall clock from Page.navigate to the load event (every chart decoded by then), with the
page's own navigation timing beside it.
Prints a JSON summary; exit 0 only when there are no console errors, every chart drew and
(with ``--max-open-sec``) the page opened in time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found: apt-get install -y chromium")


def make_demo_report(workdir: Path) -> Path:
    demo_dir = workdir / "demo"
    cmd = [
        sys.executable, "-m", "ota_deploy.cli.app", "demo",
        "--devices", "5", "--rounds", "2", "--dir", str(demo_dir), "--no-live",
    ]  # fmt: skip
    cmd = ["ota-deploy", *cmd[3:]] if shutil.which("ota-deploy") else cmd
    print("running:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, timeout=300)
    return demo_dir / "out" / "report.html"


class Cdp:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_json({"id": my_id, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), timeout=60)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)

    async def wait_for(self, method: str, seconds: float) -> dict[str, Any]:
        """Wait for the event ``method`` (keeping every other event); its message."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            msg = await asyncio.wait_for(self.ws.receive_json(), timeout=left)
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return dict(msg)
        raise TimeoutError(f"no {method} within {seconds} s")

    async def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await asyncio.wait_for(self.ws.receive_json(), timeout=left)
            except TimeoutError:
                return
            if "method" in msg:
                self.events.append(msg)


async def check(report: Path, screenshot: Path) -> dict[str, Any]:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    proc = subprocess.Popen(
        [find_chromium(), *CHROME_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        ws_url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
                break
        if ws_url is None:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        port = int(ws_url.split(":")[2].split("/")[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                pages = [p for p in await resp.json() if p.get("type") == "page"]
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = Cdp(ws)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await cdp.call(f"{domain}.enable")
                started = time.perf_counter()
                await cdp.call("Page.navigate", url=report.resolve().as_uri())
                await cdp.wait_for("Page.loadEventFired", 60.0)
                open_ms = (time.perf_counter() - started) * 1000
                await cdp.drain(0.5)  # late console errors, if any
                timing = await cdp.call(
                    "Runtime.evaluate",
                    expression="JSON.stringify((e => ({dcl: e.domContentLoadedEventEnd, "
                    "load: e.loadEventEnd}))(performance.getEntriesByType('navigation')[0]))",
                    returnByValue=True,
                )
                images = await cdp.call(
                    "Runtime.evaluate",
                    expression="JSON.stringify(Array.from(document.images).map(i => "
                    "({alt: i.alt, ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth})))",
                    returnByValue=True,
                )
                metrics = await cdp.call("Page.getLayoutMetrics")
                size = metrics.get("cssContentSize") or metrics["contentSize"]
                shot = await cdp.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={
                        "x": 0,
                        "y": 0,
                        "width": min(size["width"], 1280),
                        "height": min(size["height"], 6000),
                        "scale": 1,
                    },
                )
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                title = await cdp.call(
                    "Runtime.evaluate", expression="document.title", returnByValue=True
                )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)

    errors = []
    requests = []
    for ev in cdp.events:
        method, params = ev["method"], ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(json.dumps(params.get("args"))[:300])
        elif method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params.get("exceptionDetails"))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", "")[:300])
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("data:", "file:")):
                requests.append(url)
    imgs = json.loads(images["result"]["value"])
    nav = json.loads(timing["result"]["value"])
    return {
        "report": str(report),
        "bytes": report.stat().st_size,
        "open_ms": round(open_ms),  # Page.navigate sent -> load event received (wall clock)
        "dom_content_loaded_ms": round(nav["dcl"]),  # navigation timing, from the page
        "load_event_ms": round(nav["load"]),
        "title": title["result"]["value"],
        "console_errors": errors,
        "network_requests": requests,
        "images": len(imgs),
        "images_drawn": sum(1 for i in imgs if i["ok"]),
        "page_size": [size["width"], size["height"]],
        "screenshot": str(screenshot),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", type=Path)
    ap.add_argument("--screenshot", type=Path, default=Path("report-screenshot.png"))
    ap.add_argument(
        "--max-open-sec", type=float, help="also a problem when opening takes longer than this"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ota-report-check-") as tmp:
        report = args.report or make_demo_report(Path(tmp))
        result = asyncio.run(check(report, args.screenshot.resolve()))
    print(json.dumps(result, indent=2))
    ok = (
        not result["console_errors"]
        and not result["network_requests"]
        and result["images"] > 0
        and result["images_drawn"] == result["images"]
        and (args.max_open_sec is None or result["open_ms"] <= args.max_open_sec * 1000)
    )
    print("OK" if ok else "PROBLEMS FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
