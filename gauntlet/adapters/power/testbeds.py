"""Machines to power-cycle for the provider scenarios: EC2 instances on the configured AWS
endpoint (offline: moto) and domains in libvirt's own ``test:///default`` driver."""

from __future__ import annotations

import uuid
from typing import Dict, List

import boto3

_LIBVIRT_STATES = {1: "running", 3: "paused", 5: "stopped"}  # VIR_DOMAIN_RUNNING/PAUSED/SHUTOFF


class Ec2Testbed:
    """Instances tagged with a node name and the run id (so the leftover check sees them)."""

    def __init__(self, run_id: str, names: List[str], on_create) -> None:
        self.ec2 = boto3.client("ec2")
        image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        self.node_ids: Dict[str, str] = {}
        for name in names:
            instance = self.ec2.run_instances(
                ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                TagSpecifications=[{"ResourceType": "instance", "Tags": [
                    {"Key": "Name", "Value": name}, {"Key": "gauntlet:run-id", "Value": run_id}]}],
            )["Instances"][0]
            self.node_ids[name] = instance["InstanceId"]
            on_create("ec2:instance", instance["InstanceId"], region=self.ec2.meta.region_name)

    def state(self, name: str) -> str:
        reservations = self.ec2.describe_instances(InstanceIds=[self.node_ids[name]])["Reservations"]
        return reservations[0]["Instances"][0]["State"]["Name"]


class LibvirtTestbed:
    """Domains in libvirt's test driver (state lives in this process; nothing to clean up)."""

    def __init__(self, names: List[str], transient: bool = False) -> None:
        import libvirt

        self.connection = libvirt.open("test:///default")
        tag = uuid.uuid4().hex[:8]
        self.node_ids = {name: f"gauntlet-{tag}-{name}" for name in names}
        for domain_name in self.node_ids.values():
            xml = (f"<domain type='test'><name>{domain_name}</name><memory>8192</memory>"
                   "<os><type>hvm</type></os></domain>")
            if transient:
                self.connection.createXML(xml, 0)
            else:
                self.connection.defineXML(xml).create()

    def state(self, name: str) -> str:
        code = self.connection.lookupByName(self.node_ids[name]).state()[0]
        return _LIBVIRT_STATES.get(code, "other")

