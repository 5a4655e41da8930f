"""Process plumbing with no domain knowledge (an event loop on a thread; open-file limits).

Any layer may import it; it imports only the standard library and ``core``.
"""
