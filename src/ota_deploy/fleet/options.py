"""Behaviour options of the simulated fleet (``ota-deploy fleet run`` and ``run --local``).

Every random choice is drawn from ``random.Random(f"{seed}:{thing_name}:{job_id}")`` or similar
per-device streams, so the same seed gives the same failing devices whatever the timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FleetOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fail_rate: float = Field(0.0, ge=0, le=1)  # share of executions that end FAILED
    reject_rate: float = Field(0.0, ge=0, le=1)  # share that end REJECTED
    hang_rate: float = Field(0.0, ge=0, le=1)  # share that never finish (hit timeouts)
    seed: int = 0
    protocol: Literal["cbor", "json"] = "cbor"  # MQTT file delivery encoding
    prefer_https: bool = True  # use a presigned URL from the job document when present
    block_size: int = Field(4096, ge=256, le=131072)
    blocks_per_request: int = Field(1, ge=1)
    request_timeout_sec: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0)
    slow_link_bps: int | None = Field(None, gt=0)  # throttle received bytes per second
    disconnect_rate: float = Field(0.0, ge=0, le=1)  # share that drop the link mid-download
    corrupt_rate: float = Field(0.0, ge=0, le=1)  # share that receive one corrupted block
    public_key: Path | None = None  # PEM ECDSA P-256 key to verify signed images
    progress_every_pct: int = Field(25, ge=1, le=100)  # statusDetails progress granularity
