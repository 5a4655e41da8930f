"""The least-privilege AWS IoT policy of an OTA device: connect as itself; its own jobs and
streams only. One pure document for both places that attach it: ``fleet provision`` on AWS
(``aws.provisioning``) and the ``--tls`` devices of a local run (``wiring.local_tls``, inside
the local AWS IoT's process, which has no use for boto3).

Policy variables: https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html
(``${iot:Connection.Thing.ThingName}`` resolves to the thing attached to the certificate when
the client id equals the thing name, which is what the fleet uses). Resources and actions:
https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html
"""

from __future__ import annotations

from typing import Any

THING_VAR = "${iot:Connection.Thing.ThingName}"


def policy_document(region: str, account: str) -> dict[str, Any]:
    """Least privilege for an OTA device: connect as itself; jobs and streams of itself only."""
    base = f"arn:aws:iot:{region}:{account}"
    own = f"$aws/things/{THING_VAR}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{base}:client/{THING_VAR}",
            },
            {
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive"],
                "Resource": [f"{base}:topic/{own}/jobs/*", f"{base}:topic/{own}/streams/*"],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    f"{base}:topicfilter/{own}/jobs/*",
                    f"{base}:topicfilter/{own}/streams/*",
                ],
            },
        ],
    }
