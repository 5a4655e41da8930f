"""ota-deploy: deploy and stress-test OTA firmware updates on AWS IoT.

Layers (arrows point to what a layer may import; see DESIGN.md):
cli -> deploy / monitor / report / fleet -> core (pure); aws/ is the only boto3 importer;
local/ (the embedded AWS IoT) imports core and mqtt, never deploy or cli.
"""

__version__ = "0.1.0"
