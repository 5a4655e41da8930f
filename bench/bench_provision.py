"""``fleet provision`` of 1,000 and 10,000 devices against the local AWS IoT: time, bytes written.

    python bench/bench_provision.py [--sizes 1000 10000] [--src DIR]

Starts ``ota-deploy local serve`` in its own process (the AWS side: its RSA key generation for
CreateKeysAndCertificate, ~50 ms a device, is the server's CPU, not ours), then per size runs
``aws.provisioning.provision`` in a child process over HTTP through boto3, and prints:

- wall: the provisioning, start to end (includes waiting on the server);
- client CPU: the child's own user + system seconds (boto3, the manifest, the files);
- written: the bytes the child passed to write() (``/proc/self/io`` wchar: files only, not
  sockets), and how many of them were not the certificates and keys themselves (the manifest,
  its log and things.txt: what grew with N^2 when the manifest was rewritten per device);
- on disk: fleet.json and certs/ at the end.

Then ``destroy`` removes the fleet (not timed), so every size starts from an empty account.
``--src DIR`` runs the provisioning with another checkout's ``src`` (e.g. the code before the
provisioning log) for a before/after. Figures, not tests: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _wchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def child(endpoint: str, region: str, count: int, out: Path) -> dict[str, float]:
    from ota_deploy.aws.provisioning import destroy, provision
    from ota_deploy.aws.session import AwsClients, local_target

    clients = AwsClients(local_target({"iot": endpoint}, region))
    clients.iot.list_things(maxResults=1)  # the client made and connected before timing
    usage, written, start = resource.getrusage(resource.RUSAGE_SELF), _wchar(), time.monotonic()
    provision(clients, count=count, prefix="bench", group="bench-fleet", out_dir=out)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    total = _wchar() - written
    secrets = sum(p.stat().st_size for p in (out / "certs").iterdir())
    manifest = (out / "fleet.json").stat().st_size
    destroy(clients, out_dir=out)
    return {
        "wall": wall,
        "cpu": cpu,
        "written": total,
        "bookkeeping": total - secrets,
        "manifest": manifest,
        "secrets": secrets,
    }


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--src", type=Path, help="provision with this checkout's src")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # endpoint region count
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        endpoint, region, count = args.child
        print(json.dumps(child(endpoint, region, int(count), args.out)))
        return
    server = subprocess.Popen(
        [sys.executable, "-m", "ota_deploy", "local", "serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        ep = json.loads(server.stdout.readline())
        env = dict(os.environ)
        if args.src is not None:
            env["PYTHONPATH"] = str(args.src) + os.pathsep + env.get("PYTHONPATH", "")
        print(f"fleet provision against local serve; code: {args.src or 'this checkout'}")
        print(
            f"{'devices':>8}{'wall':>9}{'client CPU':>12}{'written':>12}"
            f"{'of which not certs/keys':>25}{'fleet.json':>12}"
        )
        for count in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [sys.executable, __file__, "--child", ep["iot"], ep["region"], str(count)]
                done = subprocess.run(
                    [*cmd, "--out", str(Path(tmp) / "fleet")],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
            if done.returncode:
                print(f"{count:>8}: failed\n{done.stderr[-2000:]}")
                continue
            f = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{count:>8,}{f['wall']:>8.1f}s{f['cpu']:>11.1f}s{_mb(f['written']):>12}"
                f"{_mb(f['bookkeeping']):>25}{_mb(f['manifest']):>12}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
