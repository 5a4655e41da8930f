"""The embedded local AWS IoT: control plane, jobs engine, device gateway, S3, identity.

It never imports ``deploy``, ``cli``, ``monitor``, ``report`` or ``fleet`` (docs/architecture.md).
"""
