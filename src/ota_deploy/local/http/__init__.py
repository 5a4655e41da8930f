"""AWS REST-JSON front end of the local AWS IoT (routing, parsing, validation, serialising)."""

from ota_deploy.local.http.app import ControlPlaneServer, RestJsonFrontEnd

__all__ = ["ControlPlaneServer", "RestJsonFrontEnd"]
