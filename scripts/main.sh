#!/bin/sh
# The manual's main.sh: prepare the job/stream documents, upload the binary, run the rounds.
#   sh main.sh <ThingListFile> <BinFile> <RoleARN> <JobID> <Rounds> <StreamID> [PrivateKey] [options]
# Options of `ota-deploy deploy` may follow (e.g. --local, --out DIR, --region R).
exec ota-deploy deploy "$@"
