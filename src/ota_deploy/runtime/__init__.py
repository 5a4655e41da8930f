"""Process plumbing with no domain knowledge (an event loop on a thread).

``local``, ``fleet``, ``deploy`` and ``wiring`` may import it; it imports only the standard
library and ``core`` (docs/architecture.md).
"""
