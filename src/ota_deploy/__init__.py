"""ota-deploy: deploy and stress-test OTA firmware updates on AWS IoT.

Layers (arrows point to what a layer may import; see docs/architecture.md and
tests/unit/test_layers.py):
cli -> wiring -> deploy / monitor / report / fleet -> core (pure); aws/ is the only boto3
importer; local/ (the embedded AWS IoT) imports core and mqtt, never deploy or cli; runtime/
(process plumbing) imports only core. Only cli and the tests import wiring/, the one place a
run's time source and the local stack are assembled.
"""

__version__ = "0.1.0"
