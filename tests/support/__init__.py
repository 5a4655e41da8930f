"""Test support shared across packages: real components joined in memory (no sockets)."""
