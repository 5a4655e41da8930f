"""The identity the local AWS IoT answers as, and the region used when nothing names one.

``LOCAL_ACCOUNT`` is moto's default account id, so ARNs from the local IoT and its S3 agree;
it is also the account a thing list's bare names are checked against when no account is
known yet (the check is of syntax only). One definition here; every package imports it.
"""

from __future__ import annotations

LOCAL_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
