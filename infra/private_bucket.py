"""A private, encrypted, TLS-only S3 bucket whose objects expire: what the ALB access logs and the
aws_ssm file transfers both need.

Both use S3-managed keys (SSE-S3): ALB access logs can only be written to such buckets, and the
aws_ssm hosts fetch files with pre-signed URLs, which SSE-KMS would make depend on the
controller's KMS permissions too.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from infra.tagging import tags_for


def private_bucket(
    name: str,
    *,
    expire_days: int,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    force_destroy: bool = False,
    extra_statements: Callable[[str], list[dict]] = lambda arn: [],
) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """The bucket and its policy: TLS only, plus `extra_statements(bucket_arn)`."""
    bucket = aws.s3.Bucket(name, force_destroy=force_destroy, tags=tags_for(tags, name), opts=opts)
    aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
        opts=opts,
    )
    aws.s3.BucketLifecycleConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            {
                "id": "expire-objects",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "expiration": {"days": expire_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": min(7, expire_days)},
            }
        ],
        opts=opts,
    )
    tls_only = {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    policy = aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [*extra_statements(arn), {**tls_only, "Resource": [arn, f"{arn}/*"]}],
                }
            )
        ),
        opts=opts,
    )
    return bucket, policy
