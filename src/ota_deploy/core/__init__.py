"""Pure domain logic: thing lists, firmware digests and signatures, documents, the plan.

Nothing here does network I/O; file reads are limited to the user's inputs.
"""
