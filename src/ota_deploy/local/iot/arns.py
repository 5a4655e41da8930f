"""ARNs of the local account's resources, and parsing job targets back to names.

Formats: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html
(arn:aws:iot:REGION:ACCOUNT:thing/NAME, thinggroup/NAME, job/ID, stream/ID, cert/ID, cacert/ID,
policy/NAME).
"""

from __future__ import annotations

from dataclasses import dataclass

from ota_deploy.local.iot.errors import invalid


@dataclass(frozen=True)
class Arns:
    region: str
    account: str

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:{self.region}:{self.account}:{kind}/{name}"

    def thing(self, name: str) -> str:
        return self._arn("thing", name)

    def group(self, name: str) -> str:
        return self._arn("thinggroup", name)

    def job(self, job_id: str) -> str:
        return self._arn("job", job_id)

    def stream(self, stream_id: str) -> str:
        return self._arn("stream", stream_id)

    def cert(self, cert_id: str) -> str:
        return self._arn("cert", cert_id)

    def cacert(self, cert_id: str) -> str:
        return self._arn("cacert", cert_id)

    def policy(self, name: str) -> str:
        return self._arn("policy", name)

    def parse_target(self, arn: str) -> tuple[str, str]:
        """``("thing"|"thinggroup", name)`` of a job target ARN; InvalidRequest otherwise."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iot" or "/" not in parts[5]:
            invalid(f"Invalid target ARN: {arn}")
        kind, _, name = parts[5].partition("/")
        if kind not in ("thing", "thinggroup") or not name:
            invalid(f"Job targets must be things or thing groups: {arn}")
        return kind, name
