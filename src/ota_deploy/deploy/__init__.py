"""The run: rounds of create, wait, judge and clean up; the journal and ``cleanup``."""
