#!/bin/sh
# The manual's OtaStressStart.sh: repeat a deployment with your own job and stream documents.
#   sh OtaStressStart.sh <ThingListFile> <JobID> <Rounds> <job.json> <create-stream.json> <StreamID> [options]
# job.json / create-stream.json may be written file://name.json, as the AWS CLI takes them.
# Options of `ota-deploy stress` may follow (e.g. --local --firmware test.bin, --out DIR).
exec ota-deploy stress "$@"
