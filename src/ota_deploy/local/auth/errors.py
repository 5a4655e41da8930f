"""The one failure type of ``local.auth``: an AWS error code and AWS-style message.

Data flow: every parser and validator in this package (certificate PEMs, CSRs, policy
documents) raises ``AuthError(code, message)``; the control plane turns it into its own
``AwsError`` with the HTTP status botocore's ``iot`` model declares for ``code``
(``AuthError.status``, read through ``core.aws_model.error_status``). The codes used here
are the ones the ``iot`` model lists for the operations concerned:

- ``CertificateValidationException`` (400): RegisterCertificate, RegisterCertificateWithoutCA,
  RegisterCACertificate ("The certificate is invalid").
- ``MalformedPolicyException`` (400): CreatePolicy, CreatePolicyVersion ("The policy
  documentation is not valid").
- ``InvalidRequestException`` (400): CreateCertificateFromCsr (a request that is not valid).

This module imports nothing but ``core``: the auth package stays free of ``local.iot``.
"""

from __future__ import annotations

CERTIFICATE_VALIDATION = "CertificateValidationException"
MALFORMED_POLICY = "MalformedPolicyException"
INVALID_REQUEST = "InvalidRequestException"


class AuthError(Exception):
    """A request AWS would refuse: ``code`` is the AWS error code, ``message`` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status AWS answers ``code`` with (botocore's ``iot`` model)."""
        from ota_deploy.core.aws_model import error_status

        return error_status(self.code)
