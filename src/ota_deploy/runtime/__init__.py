"""Process plumbing with no domain knowledge: an event loop on a thread (``loop_thread``),
child processes with a pipe each (``children``), one time source across processes
(``shared_clock``), an exception raised in the main thread from another (``main_thread``), the
open-file limit (``open_files``), resident memory (``memory``) and asyncio's per-connection
TLS buffer (``asyncio_tls``).

``local``, ``fleet``, ``deploy`` and ``wiring`` may import it; it imports only the standard
library and ``core`` (docs/architecture.md).
"""
