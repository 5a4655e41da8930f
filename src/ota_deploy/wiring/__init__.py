"""The one place the parts are assembled: a run's time source and the local stack.

``cli`` and the tests import this package; nothing else does (tests/unit/test_layers.py). It
may import ``local``, ``fleet``, ``aws``, ``deploy``'s types, ``core`` and ``runtime``, which
is why it sits above them: ``deploy`` asks for a ``LocalStackFactory`` (a typed seam) and this
package answers with ``local_stack.stack_for_run``.

- ``clock.time_source``: the run's one ``TimeSource`` (the wall clock against AWS,
  ``ScaledClock(--time-scale)`` for the local AWS IoT), made once and passed to everything.
- ``layout.StackLayout``: where a ``--local`` run's parts run (``--fleet-workers``, ``--tls``)
  and the stack factory for it.
- ``process_stack.ProcessStack``: the default for runs -- the local AWS IoT in a child process
  (``server_process``), the fleet in worker processes (``fleet.pool``), one virtual time across
  them (``runtime.shared_clock``); a dead child ends the run with one error and its report.
- ``local_stack.LocalStack``: local AWS IoT + the listed things + a simulated device per thing,
  all in this process (the tests; ``--fleet-workers 0``).
- ``local_tls``: a registered certificate per device for ``--tls``.
- ``open_files``: the open files a layout needs, checked (exit 2) before anything is created.
- ``run.execute``: a run request executed with both (``run``, the shell workflows, ``demo``).
"""
