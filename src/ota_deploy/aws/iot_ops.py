"""The AWS IoT control-plane calls a run makes, with pacing, retries and waits: ``IotOps``.

Flow: ``deploy`` (and ``aws.group_ops``, the local stack) call ``IotOps`` methods; each goes
through ``iot_calls.IotCalls``: paced at least ``api_sleep_sec`` apart (dev.ini
``iotApiSleepTime``), retried on throttling, counted, turned into one clear error. The methods
come from one module per resource, each with that resource's AWS rules:

    iot_jobs.JobCalls        CreateJob, DescribeJob, CancelJob, DeleteJob (+ wait until gone),
                             ListJobs
    iot_streams.StreamCalls  CreateStream, DescribeStream, DeleteStream, ListStreams
    iot_things.ThingCalls    CreateThing, thing groups and their members

Why one class of several parts: every caller holds one ``IotOps`` whose pacing and call count
cover all of its calls (a round's API calls are counted across jobs and streams alike), while
each file stays about one resource.
"""

from __future__ import annotations

from ota_deploy.aws.iot_jobs import JobCalls
from ota_deploy.aws.iot_streams import StreamCalls
from ota_deploy.aws.iot_things import ThingCalls

__all__ = ["IotOps"]


class IotOps(JobCalls, StreamCalls, ThingCalls):
    """Thin, paced, retried wrapper over a boto3 ``iot`` client: jobs, streams, things."""
