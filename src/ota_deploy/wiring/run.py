"""A run request executed with its wiring: the run's time source and, for --local, the stack.

``run``, the shell workflows (``deploy``, ``stress``) and ``demo`` all come through
``execute``: one time source is made (``clock.time_source``), and ``deploy.entry`` gets it with
``local_stack.stack_for_run`` as its ``LocalStackFactory``.
"""

from __future__ import annotations

from ota_deploy.deploy.entry import (
    RunOutcome,
    RunRequest,
    default_out_dir,
    execute_prepared,
    execute_run,
)
from ota_deploy.deploy.inputs import PreparedRun
from ota_deploy.wiring.clock import time_source
from ota_deploy.wiring.local_stack import stack_for_run


def execute(
    req: RunRequest, *, time_scale: float = 1.0, prepared: PreparedRun | None = None
) -> RunOutcome:
    """Run ``req``: its dev.ini, or a shell workflow's already validated ``prepared`` run
    (then ``req.config`` is not read and the report names no config file).
    ``time_scale`` applies to a ``--local`` run only."""
    clock = time_source(local=req.local, time_scale=time_scale)
    if prepared is None:
        return execute_run(req, clock=clock, stack_factory=stack_for_run)
    return execute_prepared(
        prepared,
        req,
        out_dir=req.out_dir or default_out_dir(),
        clock=clock,
        stack_factory=stack_for_run,
    )
