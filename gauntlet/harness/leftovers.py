"""Leftover check: is anything still tagged with this run's id? (zero leftovers after teardown)"""

from __future__ import annotations

from typing import List

import boto3


def tagged_leftovers(run_id: str, region: str) -> List[str]:
    """ARNs of live resources tagged ``gauntlet:run-id=<run_id>`` (terminated instances excluded)."""
    tagging = boto3.client("resourcegroupstaggingapi", region_name=region)
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": "gauntlet:run-id", "Values": [run_id]}])
    arns = [item["ResourceARN"] for page in pages for item in page["ResourceTagMappingList"]]
    instance_ids = [arn.rsplit("/", 1)[1] for arn in arns if ":instance/" in arn]
    if instance_ids:
        ec2 = boto3.client("ec2", region_name=region)
        gone = {i["InstanceId"] for r in ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
                for i in r["Instances"] if i["State"]["Name"] in ("terminated", "shutting-down")}
        arns = [arn for arn in arns if arn.rsplit("/", 1)[-1] not in gone]
    return arns
