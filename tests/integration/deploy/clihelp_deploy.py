"""Helpers for running the ota-deploy CLI as a subprocess in the deploy integration tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[3] / "src" / "ota_deploy" / "config" / "samples"
SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.pop("AWS_PROFILE", None)
    env.update(extra or {})
    return env


def run_cli(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=cli_env(env), capture_output=True, text=True, timeout=timeout
    )


def copy_samples(dest: Path, **overrides: str) -> Path:
    """The manual's dev.ini (H6's sample) + thing list + firmware in ``dest``; keys overridden."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dev.ini", "thingsList.txt", "test.bin", "job_temp.json"):
        shutil.copy(SAMPLES / name, dest / name)
    ini = dest / "dev.ini"
    lines = ini.read_text().splitlines()
    out: list[str] = []
    section = "DEFAULT"
    seen: set[str] = set()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped != "[DEFAULT]":
            if section == "DEFAULT":
                out += [f"{k} = {v}" for k, v in overrides.items() if k not in seen]
            section = stripped.strip("[]")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else None
        if section == "DEFAULT" and key in overrides:
            out.append(f"{key} = {overrides[key]}")
            seen.add(key)
            continue
        out.append(line)
    ini.write_text("\n".join(out) + "\n")
    return ini
