"""Talking to AWS: the boto3 session and paced, retried IoT and S3 adapters.

The only package that imports boto3; the same code serves real AWS and the local AWS IoT.
"""
