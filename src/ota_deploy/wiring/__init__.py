"""The one place the parts are assembled: a run's time source and the local stack.

``cli`` and the tests import this package; nothing else does (tests/unit/test_layers.py). It
may import ``local``, ``fleet``, ``aws``, ``deploy``'s types, ``core`` and ``runtime``, which
is why it sits above them: ``deploy`` asks for a ``LocalStackFactory`` (a typed seam) and this
package answers with ``local_stack.stack_for_run``.

- ``clock.time_source``: the run's one ``TimeSource`` (the wall clock against AWS,
  ``ScaledClock(--time-scale)`` for the local AWS IoT), made once and passed to everything.
- ``local_stack.LocalStack``: local AWS IoT + the listed things + a simulated device per thing,
  all on that time source.
- ``run.execute``: a run request executed with both (``run``, the shell workflows, ``demo``).
"""
