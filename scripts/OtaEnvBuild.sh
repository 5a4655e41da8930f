#!/bin/sh
# The manual's OtaEnvBuild.sh: write example-job.json and create-stream.json, upload the binary.
#   sh OtaEnvBuild.sh <BinFile> <RoleARN> <StreamID> [PrivateKey] [options]
# Options of `ota-deploy prepare` may follow (e.g. --bucket B, --local, --region R).
exec ota-deploy prepare "$@"
