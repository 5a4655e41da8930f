"""Run many ``ota-deploy`` command lines cheaply: import the CLI once, fork once per command.

Not a test module. Reads a JSON list of {"id", "argv", "cwd"} on stdin; for each, forks a child
that chdirs, sends its stdout/stderr to files, sets ``sys.argv`` and calls the console script's
entry point ``ota_deploy.cli.app:main`` exactly as the installed ``ota-deploy`` does, then exits
with its code. Prints a JSON list of {"id", "code", "stdout", "stderr"}. Each child is a real
process with a real exit status; only the ~1 s import of the CLI is shared.
"""

from __future__ import annotations

import json
import os
import sys


def _child(argv: list[str], cwd: str, out_path: str, err_path: str) -> None:
    os.chdir(cwd)
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    sys.argv = ["ota-deploy", *argv]
    code = 0
    try:
        from ota_deploy.cli.app import main

        main()
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main() -> None:
    # The shared imports: the CLI and what ``run`` imports lazily on its way to the checks.
    import boto3  # noqa: F401

    import ota_deploy.cli.app
    import ota_deploy.config.loader
    import ota_deploy.deploy.inputs
    import ota_deploy.wiring.run  # noqa: F401

    jobs = json.load(sys.stdin)
    results = []
    for job in jobs:
        out_path = os.path.join(job["cwd"], ".cli.stdout")
        err_path = os.path.join(job["cwd"], ".cli.stderr")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(job["argv"], job["cwd"], out_path, err_path)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        with open(out_path, encoding="utf-8", errors="replace") as f:
            stdout = f.read()
        with open(err_path, encoding="utf-8", errors="replace") as f:
            stderr = f.read()
        results.append({"id": job["id"], "code": code, "stdout": stdout, "stderr": stderr})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
