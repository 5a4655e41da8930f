"""Who the caller is: the AWS account id (STS GetCallerIdentity), for default bucket names."""

from __future__ import annotations

from ota_deploy.aws.retry import call_aws
from ota_deploy.aws.session import AwsClients
from ota_deploy.core.clock import SystemClock, TimeSource


def account_id(clients: AwsClients, *, clock: TimeSource | None = None) -> str:
    """The 12-digit account of the credentials in use (retries wait on ``clock``)."""
    sts = clients.client("sts")
    sleep = (clock or SystemClock()).sleep
    ident = call_aws(sts.get_caller_identity, "GetCallerIdentity", sleep=sleep)
    return str(ident["Account"])
