"""Who the caller is: the AWS account id (STS GetCallerIdentity), for default bucket names."""

from __future__ import annotations

from ota_deploy.aws.retry import call_aws
from ota_deploy.aws.session import AwsClients


def account_id(clients: AwsClients) -> str:
    """The 12-digit account of the credentials in use."""
    sts = clients.client("sts")
    ident = call_aws(sts.get_caller_identity, "GetCallerIdentity")
    return str(ident["Account"])
