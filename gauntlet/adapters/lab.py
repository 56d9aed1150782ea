"""The lab: the AWS environment a Gauntlet run provisions for a Cassandra cluster.

Modelled on easy-cass-lab: IAM policies and a node role, a VPC with one public subnet, an
internet gateway and a security group, EC2 instances ``db0..dbN-1``, ``app0`` and ``control0``
(K3s server), an optional EBS data volume per database node, a config bundle (kubeconfig,
environment, Cassandra configs) and its backup in S3.

Every resource is reported to ``on_create`` (the harness's resource ledger) as soon as AWS
returns its id, before anything relies on it, and carries the tags ``ClusterId``, ``created``,
``gauntlet:run-id`` and ``gauntlet:expires``. :meth:`Boto3Lab.destroy` finds resources by those
tags; :func:`reap` deletes one ledger entry after a killed run.

Adapters never assert: methods return data or raise :class:`LabError` (or a boto3 error).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
import shlex
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import yaml
from botocore.exceptions import ClientError

from gauntlet.adapters import aws
from gauntlet.adapters.aws import RUN_ID_TAG, error_code, tag_dict
from gauntlet.clock import Clock, WaitTimeout, default_clock, wait_until

log = logging.getLogger(__name__)

# Resource kinds as written to the ledger, in the order a lab usually creates them.
KINDS = (
    "iam:policy", "iam:role", "iam:instance-profile",
    "ec2:vpc", "ec2:subnet", "ec2:internet-gateway", "ec2:route-table", "ec2:security-group",
    "ec2:instance", "ec2:volume", "ec2:image", "s3:bucket",
)
# reap() also deletes snapshots: an image's snapshots go with it, and destroy() finds strays.
REAPABLE_KINDS = KINDS + ("ec2:snapshot", "dynamodb:table")  # tables: the DRS history on real targets

VPC_CIDR = "10.0.0.0/16"
SUBNET_CIDR = "10.0.1.0/24"
K3S_API_PORT = 6443
DATA_DEVICE = "/dev/sdf"
ROLE_ORDER = {"db": 0, "app": 1, "control": 2, "builder": 3}
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
BUCKET_PREFIX = "gauntlet-lab-"

OnCreate = Callable[..., None]


class LabError(RuntimeError):
    """The lab cannot do what was asked (missing cluster, missing bucket ...)."""


class ReapError(LabError):
    """A resource could not be deleted; the message names its kind and id."""


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output_tail: str
    duration: float


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    instance_id: str
    private_ip: Optional[str]
    public_ip: Optional[str]
    state: str


@dataclass
class Cluster:
    name: str
    cluster_id: str
    vpc_id: str
    subnet_ids: list[str]
    security_group_id: Optional[str]
    internet_gateway_id: Optional[str]
    instances: list[Host] = field(default_factory=list)


def run_command(command: Sequence[str], cwd=None, timeout: float = 1800.0,
                tail_lines: int = 50) -> CommandResult:
    """Run a command, never raising on failure: exit 127 if missing, 124 on timeout.

    The command runs in its own process group, so a timeout (or an interrupt of the caller)
    stops its children too.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(list(command), cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace", start_new_session=True)
    except OSError as error:
        return CommandResult(127, f"cannot run {command[0]!r}: {error}", time.monotonic() - started)
    try:
        try:
            output, _ = process.communicate(timeout=timeout)
            exit_code = process.returncode
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            output += f"\n[gauntlet] command timed out after {timeout:g}s and was killed"
            exit_code = 124
    finally:
        if process.poll() is None:  # interrupted while waiting: do not leave the build running
            _kill_group(process)
            process.wait()
    tail = "\n".join(output.splitlines()[-tail_lines:])
    return CommandResult(exit_code, tail, time.monotonic() - started)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass


class Lab(ABC):
    """What the lab steps need from a lab, whatever provisions it."""

    run_id: str
    cluster_name: str
    cluster_id: str

    def build(self, command: Sequence[str], cwd=None, timeout: float = 1800.0) -> CommandResult:
        """Build the project under test; a failed build is a result, not an exception."""
        return run_command(command, cwd=cwd, timeout=timeout)

    @property
    @abstractmethod
    def kubeconfig_token(self) -> str:
        """The kubeconfig's bearer token: a secret the harness registers for redaction."""

    @abstractmethod
    def apply_iam_policies(self) -> list[str]: ...

    @abstractmethod
    def init_cluster(self, db_count: int = 3, instance_type: str = "t3.micro", ebs: bool = False,
                     image_id: Optional[str] = None) -> Cluster: ...

    @abstractmethod
    def build_image(self) -> str: ...

    @abstractmethod
    def describe_cluster(self) -> Cluster: ...

    @abstractmethod
    def hosts(self) -> list[Host]: ...

    @abstractmethod
    def vpc_tags(self) -> dict[str, str]: ...

    @abstractmethod
    def network_tags(self) -> dict[str, dict[str, str]]: ...

    @abstractmethod
    def data_volumes(self) -> dict[str, list[str]]: ...

    @abstractmethod
    def describe_image(self, image_id: str) -> dict: ...

    @abstractmethod
    def attached_policy_arns(self) -> list[str]: ...

    @abstractmethod
    def write_cluster_config(self) -> Path: ...

    @abstractmethod
    def backup_location(self) -> tuple[str, str]: ...

    @abstractmethod
    def backup_to_s3(self) -> tuple[str, str]: ...

    @abstractmethod
    def backup_listing(self) -> list[str]: ...

    @abstractmethod
    def backup_object(self, relative_key: str) -> str: ...

    @abstractmethod
    def destroy(self) -> None: ...

    @abstractmethod
    def leftovers(self) -> list[str]: ...


class Boto3Lab(Lab):
    """The lab on AWS (or on the offline moto endpoint), through plain boto3.

    ``cluster_id`` is a short random hex id unless given (see :meth:`attach`). ``on_create``
    defaults to doing nothing, which suits read-only use such as the status server.
    """

    def __init__(self, run_id: str, cluster_name: str, region: Optional[str] = None,
                 on_create: Optional[OnCreate] = None, clock: Optional[Clock] = None,
                 work_dir=None, *, cluster_id: Optional[str] = None, ssh_cidr: str = "0.0.0.0/0",
                 ttl_hours: float = 6, poll_interval: float = 5.0, wait_timeout: float = 900.0):
        self.run_id = run_id
        self.cluster_name = cluster_name
        self.cluster_id = cluster_id or secrets.token_hex(4)
        self.clock = clock or default_clock()
        self.work_dir = Path(work_dir) if work_dir else Path("reports") / run_id / "lab"
        self.ssh_cidr = ssh_cidr
        self.ttl_hours = ttl_hours
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.ec2 = aws.client("ec2", region)
        self.region = self.ec2.meta.region_name
        self._on_create = on_create or (lambda kind, ident, **attrs: None)
        self._identity: Optional[dict] = None
        self._token: Optional[str] = None

    @classmethod
    def attach(cls, run_id: str, cluster_name: str, cluster_id: str, region: Optional[str] = None,
               **options) -> "Boto3Lab":
        """An adapter for a cluster that already exists (status server, resume, teardown)."""
        return cls(run_id, cluster_name, region, cluster_id=cluster_id, **options)

    # -- clients (created when first used: the status server never needs STS or IAM) ----------

    @cached_property
    def iam(self):
        return aws.client("iam", self.region)

    @cached_property
    def s3(self):
        return aws.client("s3", self.region)

    @cached_property
    def sts(self):
        return aws.client("sts", self.region)

    # -- identity, names, tags ---------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"{self.cluster_name}-{self.cluster_id}"

    @property
    def cluster_dir(self) -> Path:
        return self.work_dir / self.label

    @property
    def account_id(self) -> str:
        return self._caller_identity()["Account"]

    @property
    def iam_path(self) -> str:
        """IAM path of this cluster's IAM items; the run's prefix is how leftovers find them."""
        return f"{_run_iam_path(self.run_id)}{self.cluster_id}/"

    @property
    def role_name(self) -> str:
        return f"gauntlet-{self.cluster_id}-role"

    @property
    def instance_profile_name(self) -> str:
        return f"gauntlet-{self.cluster_id}-profile"

    @property
    def kubeconfig_token(self) -> str:
        if self._token is None:
            self._token = secrets.token_hex(32)
        return self._token

    def _caller_identity(self) -> dict:
        if self._identity is None:
            self._identity = self.sts.get_caller_identity()
        return self._identity

    def _partition(self) -> str:
        return self._caller_identity()["Arn"].split(":")[1]

    def _record(self, kind: str, ident: str, **attrs) -> None:
        """Report a new resource to the ledger (the account id is resolved before creating)."""
        log.info("created %s %s", kind, ident)
        self._on_create(kind, ident, region=self.region, account=self.account_id,
                        run_id=self.run_id, cluster_id=self.cluster_id, **attrs)

    def _tags(self, **extra: str) -> list[dict]:
        tags = {"ClusterId": self.cluster_id, "created": aws.iso_utc(self.clock.wall()), **extra}
        return ([{"Key": key, "Value": value} for key, value in tags.items()]
                + aws.run_tags(self.run_id, self.ttl_hours, self.clock))

    def _tag_spec(self, resource_type: str, **extra: str) -> list[dict]:
        return [{"ResourceType": resource_type, "Tags": self._tags(**extra)}]

    def _cluster_filters(self) -> list[dict]:
        return [{"Name": "tag:ClusterId", "Values": [self.cluster_id]},
                {"Name": f"tag:{RUN_ID_TAG}", "Values": [self.run_id]}]

    def _wait(self, condition: Callable[[], object], description: str,
              timeout: Optional[float] = None):
        return wait_until(condition, timeout or self.wait_timeout, self.poll_interval,
                          description, clock=self.clock).value

    # -- IAM ---------------------------------------------------------------------------------

    def apply_iam_policies(self) -> list[str]:
        """Create the node policies (EC2 describe, the backup bucket), role and instance profile.

        Safe to call again (a retried step): existing items are reused, not recorded twice.
        """
        self._caller_identity()
        arns = []
        for suffix, document in self._policy_documents().items():
            name = f"gauntlet-{self.cluster_id}-{suffix}"
            created = _create_unless_exists(
                self.iam.create_policy, PolicyName=name, Path=self.iam_path,
                PolicyDocument=json.dumps(document), Description=f"Gauntlet lab {self.label}: {suffix}",
                Tags=self._tags())
            if created:
                arn = created["Policy"]["Arn"]
                self._record("iam:policy", arn, name=name)
            else:
                arn = f"arn:{self._partition()}:iam::{self.account_id}:policy{self.iam_path}{name}"
            arns.append(arn)
        if _create_unless_exists(self.iam.create_role, RoleName=self.role_name, Path=self.iam_path,
                                 AssumeRolePolicyDocument=json.dumps(_EC2_TRUST_POLICY),
                                 Tags=self._tags()):
            self._record("iam:role", self.role_name)
        for arn in arns:
            self.iam.attach_role_policy(RoleName=self.role_name, PolicyArn=arn)
        if _create_unless_exists(self.iam.create_instance_profile,
                                 InstanceProfileName=self.instance_profile_name, Path=self.iam_path,
                                 Tags=self._tags()):
            self._record("iam:instance-profile", self.instance_profile_name)
        profile = self.iam.get_instance_profile(InstanceProfileName=self.instance_profile_name)
        if not any(r["RoleName"] == self.role_name for r in profile["InstanceProfile"]["Roles"]):
            self.iam.add_role_to_instance_profile(InstanceProfileName=self.instance_profile_name,
                                                  RoleName=self.role_name)
        return arns

    def _policy_documents(self) -> dict[str, dict]:
        bucket_arn = f"arn:{self._partition()}:s3:::{self.backup_location()[0]}"
        return {
            "ec2-describe": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}]},
            "s3-backup": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": f"{bucket_arn}/*"}]},
        }

    def _existing_instance_profile(self) -> Optional[str]:
        try:
            self.iam.get_instance_profile(InstanceProfileName=self.instance_profile_name)
        except ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return None
            raise
        return self.instance_profile_name

    # -- cluster -----------------------------------------------------------------------------

    def init_cluster(self, db_count: int = 3, instance_type: str = "t3.micro", ebs: bool = False,
                     image_id: Optional[str] = None) -> Cluster:
        """Create the network and the nodes, wait until they run; ``ebs`` adds data volumes."""
        self._caller_identity()
        image_id = image_id or self.default_image_id()
        network = self._create_network()
        profile = self._existing_instance_profile()
        nodes = [(f"db{i}", "db") for i in range(db_count)] + [("app0", "app"), ("control0", "control")]
        launched = {name: self._launch(name, role, image_id, instance_type, network, profile)
                    for name, role in nodes}
        self._wait_for_instances(list(launched.values()), "running")
        if ebs:
            for name, role in nodes:
                if role == "db":
                    self._attach_data_volume(name, launched[name], network["availability_zone"])
        return Cluster(self.cluster_name, self.cluster_id, network["vpc_id"], [network["subnet_id"]],
                       network["security_group_id"], network["internet_gateway_id"], self.hosts())

    def default_image_id(self) -> str:
        """The newest Amazon Linux 2 x86_64 image; else any available Amazon x86_64 image."""
        base = [{"Name": "state", "Values": ["available"]},
                {"Name": "architecture", "Values": ["x86_64"]}]
        for filters in ([{"Name": "name", "Values": ["amzn2-ami-hvm-*-x86_64-gp2"]}] + base, base):
            images = self.ec2.describe_images(Owners=["amazon"], Filters=filters)["Images"]
            if images:
                newest = max(images, key=lambda image: (image.get("CreationDate", ""), image["Name"]))
                return newest["ImageId"]
        raise LabError(f"no available x86_64 Amazon machine image in {self.region}")

    def _create_network(self) -> dict:
        ec2 = self.ec2
        vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=self._tag_spec(
            "vpc", Name=self.label))["Vpc"]["VpcId"]
        self._record("ec2:vpc", vpc_id, name=self.label)
        self._wait(lambda: ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["State"] == "available",
                   f"VPC {vpc_id} available")
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})

        zone = ec2.describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"][0]["ZoneName"]
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=SUBNET_CIDR, AvailabilityZone=zone,
                                      TagSpecifications=self._tag_spec(
                                          "subnet", Name=f"{self.label}-public"))["Subnet"]["SubnetId"]
        self._record("ec2:subnet", subnet_id, vpc_id=vpc_id)
        ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})

        igw_id = ec2.create_internet_gateway(TagSpecifications=self._tag_spec(
            "internet-gateway", Name=self.label))["InternetGateway"]["InternetGatewayId"]
        self._record("ec2:internet-gateway", igw_id, vpc_id=vpc_id)
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)

        route_table_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=self._tag_spec(
            "route-table", Name=f"{self.label}-public"))["RouteTable"]["RouteTableId"]
        self._record("ec2:route-table", route_table_id, vpc_id=vpc_id)
        ec2.create_route(RouteTableId=route_table_id, DestinationCidrBlock="0.0.0.0/0",
                         GatewayId=igw_id)
        ec2.associate_route_table(RouteTableId=route_table_id, SubnetId=subnet_id)

        group_id = ec2.create_security_group(
            GroupName=self.label, Description=f"Gauntlet lab {self.label}: ssh and intra-VPC",
            VpcId=vpc_id, TagSpecifications=self._tag_spec("security-group", Name=self.label),
        )["GroupId"]
        self._record("ec2:security-group", group_id, vpc_id=vpc_id)
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": self.ssh_cidr, "Description": "ssh"}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": VPC_CIDR, "Description": "intra-VPC"}]},
        ])
        return {"vpc_id": vpc_id, "subnet_id": subnet_id, "internet_gateway_id": igw_id,
                "route_table_id": route_table_id, "security_group_id": group_id,
                "availability_zone": zone}

    def _launch(self, name: str, role: str, image_id: str, instance_type: str,
                network: Optional[dict], instance_profile: Optional[str]) -> str:
        """Launch one tagged instance (its root volume tagged too) and record it."""
        params = {
            "ImageId": image_id, "InstanceType": instance_type, "MinCount": 1, "MaxCount": 1,
            "TagSpecifications": (self._tag_spec("instance", Name=name, Role=role)
                                  + self._tag_spec("volume", Name=f"{name}-root", Role=role)),
        }
        if network:
            params.update(SubnetId=network["subnet_id"], SecurityGroupIds=[network["security_group_id"]])
        if instance_profile:
            params["IamInstanceProfile"] = {"Name": instance_profile}
        response = aws.retrying(lambda: self.ec2.run_instances(**params), _profile_not_ready,
                                timeout=120, interval=self.poll_interval,
                                description=f"instance profile usable for {name}", clock=self.clock)
        instance_id = response["Instances"][0]["InstanceId"]
        self._record("ec2:instance", instance_id, name=name, role=role)
        return instance_id

    def _wait_for_instances(self, instance_ids: list[str], state: str) -> None:
        def reached() -> bool:
            found = list(_instances(self.ec2, Filters=[{"Name": "instance-id", "Values": instance_ids}]))
            return len(found) == len(instance_ids) and all(i["State"]["Name"] == state for i in found)

        self._wait(reached, f"instances {', '.join(instance_ids)} {state}")

    def _attach_data_volume(self, name: str, instance_id: str, zone: str) -> str:
        volume_id = self.ec2.create_volume(
            AvailabilityZone=zone, Size=20, VolumeType="gp3",
            TagSpecifications=self._tag_spec("volume", Name=f"{name}-data", Role="db"),
        )["VolumeId"]
        self._record("ec2:volume", volume_id, name=f"{name}-data", instance_id=instance_id)
        self._wait(lambda: _volume_state(self.ec2, volume_id) == "available",
                   f"volume {volume_id} available")
        self.ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=DATA_DEVICE)
        self._wait(lambda: _volume_state(self.ec2, volume_id) == "in-use",
                   f"volume {volume_id} attached to {name}")
        return volume_id

    def build_image(self) -> str:
        """Bake a lab machine image from a builder instance, then terminate the builder.

        The builder runs in the cluster's subnet when the cluster exists, else in the default VPC.
        """
        self._caller_identity()
        try:
            cluster = self.describe_cluster()
            network = {"subnet_id": cluster.subnet_ids[0], "security_group_id": cluster.security_group_id}
        except LabError:
            network = None
        builder_id = self._launch("builder0", "builder", self.default_image_id(), "t3.micro",
                                  network, None)
        self._wait_for_instances([builder_id], "running")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock.wall()))
        name = f"gauntlet-lab-{self.cluster_id}-{stamp}"  # AMI names allow no colons
        image_id = self.ec2.create_image(InstanceId=builder_id, Name=name,
                                         Description=f"Gauntlet lab image for {self.label}",
                                         TagSpecifications=self._tag_spec("image", Name=name))["ImageId"]
        self._record("ec2:image", image_id, name=name)
        image = self._wait(lambda: _available_image(self.ec2, image_id), f"image {image_id} available",
                           timeout=max(self.wait_timeout, 1800))
        snapshot_ids = _image_snapshot_ids(image)
        if snapshot_ids:  # create_image cannot tag snapshots everywhere; tag them afterwards
            self.ec2.create_tags(Resources=snapshot_ids, Tags=self._tags(Name=name))
        self.ec2.terminate_instances(InstanceIds=[builder_id])
        self._wait_for_instances([builder_id], "terminated")
        return image_id

    def describe_cluster(self) -> Cluster:
        """The cluster as AWS sees it now, found by its tags."""
        filters = self._cluster_filters()
        vpcs = self.ec2.describe_vpcs(Filters=filters)["Vpcs"]
        if not vpcs:
            raise LabError(f"no VPC tagged ClusterId={self.cluster_id} for run {self.run_id} "
                           f"in {self.region}")
        subnets = self.ec2.describe_subnets(Filters=filters)["Subnets"]
        groups = self.ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
        gateways = self.ec2.describe_internet_gateways(Filters=filters)["InternetGateways"]
        return Cluster(
            self.cluster_name, self.cluster_id, vpcs[0]["VpcId"],
            sorted(subnet["SubnetId"] for subnet in subnets),
            groups[0]["GroupId"] if groups else None,
            gateways[0]["InternetGatewayId"] if gateways else None,
            self.hosts(),
        )

    def hosts(self) -> list[Host]:
        """The cluster's instances that are not terminated, db nodes first, then app, control."""
        filters = self._cluster_filters() + [{"Name": "instance-state-name",
                                              "Values": LIVE_INSTANCE_STATES}]
        hosts = []
        for instance in _instances(self.ec2, Filters=filters):
            tags = tag_dict(instance.get("Tags"))
            hosts.append(Host(tags.get("Name", instance["InstanceId"]), tags.get("Role", ""),
                              instance["InstanceId"], instance.get("PrivateIpAddress"),
                              instance.get("PublicIpAddress"), instance["State"]["Name"]))
        return sorted(hosts, key=_host_order)

    def vpc_tags(self) -> dict[str, str]:
        vpcs = self.ec2.describe_vpcs(Filters=self._cluster_filters())["Vpcs"]
        if not vpcs:
            raise LabError(f"no VPC tagged ClusterId={self.cluster_id} for run {self.run_id}")
        return tag_dict(vpcs[0].get("Tags"))

    def network_tags(self) -> dict[str, dict[str, str]]:
        """Tags of the cluster's VPC, subnets, internet gateway, route table and security group."""
        filters = self._cluster_filters()
        found = {}
        for operation, key, id_key in (("describe_vpcs", "Vpcs", "VpcId"),
                                       ("describe_subnets", "Subnets", "SubnetId"),
                                       ("describe_internet_gateways", "InternetGateways",
                                        "InternetGatewayId"),
                                       ("describe_route_tables", "RouteTables", "RouteTableId"),
                                       ("describe_security_groups", "SecurityGroups", "GroupId")):
            for item in _paged(self.ec2, operation, key, Filters=filters):
                found[item[id_key]] = tag_dict(item.get("Tags"))
        return found

    def data_volumes(self) -> dict[str, list[str]]:
        """Volume ids attached as the data device, by node name (``--ebs``)."""
        nodes = {host.instance_id: host.name for host in self.hosts()}
        if not nodes:
            return {}
        volumes = self.ec2.describe_volumes(Filters=[
            {"Name": "attachment.instance-id", "Values": list(nodes)},
            {"Name": "attachment.device", "Values": [DATA_DEVICE]}])["Volumes"]
        found: dict[str, list[str]] = {}
        for volume in volumes:
            for attachment in volume.get("Attachments", []):
                if attachment["InstanceId"] in nodes and attachment["Device"] == DATA_DEVICE:
                    found.setdefault(nodes[attachment["InstanceId"]], []).append(volume["VolumeId"])
        return found

    def describe_image(self, image_id: str) -> dict:
        """The image as EC2 describes it, with ``Tags`` as a dict. Raises LabError if unknown."""
        try:
            images = self.ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as error:
            if not _is_gone(error):
                raise
            images = []
        if not images:
            raise LabError(f"image {image_id} does not exist in {self.region}")
        return {**images[0], "Tags": tag_dict(images[0].get("Tags"))}

    def attached_policy_arns(self) -> list[str]:
        """ARNs of the managed policies attached to the node role."""
        return [policy["PolicyArn"] for policy in _paged(
            self.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=self.role_name)]

    # -- config bundle and its backup --------------------------------------------------------

    def write_cluster_config(self) -> Path:
        """Write the cluster's config bundle (kubeconfig, environment, Cassandra configs).

        Returns ``work_dir/<name>-<id>/config``. The kubeconfig is private (mode 0600).
        """
        hosts = [host for host in self.hosts() if host.role in ("db", "app", "control")]
        control = next((host for host in hosts if host.role == "control"), None)
        if control is None or not control.private_ip:
            raise LabError(f"cluster {self.label} has no control node: run init_cluster first")
        config_dir = self.cluster_dir / "config"
        files = render_config_bundle(self.cluster_name, self.cluster_id, self.region, hosts,
                                     self.kubeconfig_token)
        for relative, text in files.items():
            path = config_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if relative == "kubeconfig":
                path.touch(mode=0o600, exist_ok=True)
                path.chmod(0o600)
            path.write_text(text)
        return config_dir

    def backup_location(self) -> tuple[str, str]:
        """(bucket, prefix) of the config backup: one bucket per run, a prefix per cluster."""
        return bucket_name(self.run_id), f"clusters/{self.label}/config/"

    def backup_to_s3(self) -> tuple[str, str]:
        """Upload the config bundle (written first if missing), keeping relative paths."""
        self._caller_identity()
        config_dir = self.cluster_dir / "config"
        if not config_dir.is_dir():
            self.write_cluster_config()
        bucket, prefix = self.backup_location()
        self._ensure_bucket(bucket)
        for path in sorted(p for p in config_dir.rglob("*") if p.is_file()):
            self.s3.put_object(Bucket=bucket, Key=prefix + path.relative_to(config_dir).as_posix(),
                               Body=path.read_bytes(), ServerSideEncryption="AES256")
        return bucket, prefix

    def _ensure_bucket(self, bucket: str) -> None:
        try:
            self.s3.head_bucket(Bucket=bucket)
            return  # created earlier in this run, already recorded
        except ClientError as error:
            if error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise LabError(f"bucket {bucket} exists but is not usable: {error}") from error
        location = {} if self.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": self.region}}
        self.s3.create_bucket(Bucket=bucket, **location)
        self._record("s3:bucket", bucket)
        self.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": self._tags(Name=bucket)})

    def backup_listing(self) -> list[str]:
        """Keys of the config backup, relative to its prefix. Raises LabError without a bucket."""
        bucket, prefix = self.backup_location()
        try:
            keys = [item["Key"] for item in _paged(self.s3, "list_objects_v2", "Contents",
                                                   Bucket=bucket, Prefix=prefix)]
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                raise LabError(f"backup bucket {bucket} does not exist") from error
            raise
        return sorted(key[len(prefix):] for key in keys)

    def backup_object(self, relative_key: str) -> str:
        """Text of one backed-up file, by its path relative to the config prefix."""
        bucket, prefix = self.backup_location()
        try:
            body = self.s3.get_object(Bucket=bucket, Key=prefix + relative_key)["Body"].read()
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "NoSuchBucket"):
                raise LabError(f"s3://{bucket}/{prefix}{relative_key} does not exist") from error
            raise
        return body.decode()

    # -- teardown ----------------------------------------------------------------------------

    def destroy(self) -> None:
        """Delete everything of this cluster, found by its tags and IAM path. Idempotent.

        The run's bucket loses this cluster's prefix and is deleted once empty. A failure does
        not stop the rest of the teardown: every failure is raised at the end in one LabError.
        """
        ec2, filters = self.ec2, self._cluster_filters()
        reaper = Reaper(self.region, self.clock, self.wait_timeout, self.poll_interval,
                        ec2=ec2, iam=self.iam, s3=self.s3)
        failures: list[str] = []

        def attempt(action: Callable[..., None], *args) -> None:
            try:
                action(*args)
            except (LabError, ClientError, WaitTimeout) as error:
                failures.append(str(error))

        instances = [i["InstanceId"] for i in _instances(ec2, Filters=filters + [
            {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}])]
        attempt(reaper.terminate, instances)
        for image in ec2.describe_images(Owners=["self"], Filters=filters)["Images"]:
            attempt(reaper.reap, "ec2:image", image["ImageId"])
        for kind, ident in list(self._tagged_ec2(filters)):  # listed before any is deleted
            attempt(reaper.reap, kind, ident)
        attempt(self._remove_backup, reaper)
        for kind, ident in _iam_items(self.iam, self.iam_path):
            attempt(reaper.reap, kind, ident)
        if failures:
            raise LabError(f"teardown of {self.label} incomplete: " + "; ".join(failures))

    def _remove_backup(self, reaper: "Reaper") -> None:
        bucket, prefix = self.backup_location()
        try:
            reaper.empty_bucket(bucket, prefix)
            if not self.s3.list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount"):
                reaper.reap("s3:bucket", bucket)
        except ClientError as error:
            if error_code(error) != "NoSuchBucket":
                raise

    def _tagged_ec2(self, filters: list[dict]) -> Iterator[tuple[str, str]]:
        """(kind, id) of tagged snapshots, volumes and network resources, in teardown order."""
        for kind, operation, key, id_key in _EC2_TEARDOWN_ORDER:
            kwargs: dict = {"Filters": filters}
            if kind == "ec2:snapshot":  # own snapshots only, owner filter first: public ones are many
                kwargs = {"OwnerIds": ["self"],
                          "Filters": [{"Name": "owner-id", "Values": [self.account_id]}] + filters}
            for item in _paged(self.ec2, operation, key, **kwargs):
                yield kind, item[id_key]

    def leftovers(self) -> list[str]:
        """``"<kind> <id>"`` for everything still tagged with this run id (any cluster)."""
        ec2 = self.ec2
        run_filter = [{"Name": f"tag:{RUN_ID_TAG}", "Values": [self.run_id]}]
        found = [f"ec2:instance {i['InstanceId']} ({i['State']['Name']})" for i in _instances(
            ec2, Filters=run_filter + [{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}])]
        found += [f"ec2:image {image['ImageId']}"
                  for image in ec2.describe_images(Owners=["self"], Filters=run_filter)["Images"]]
        found += [f"{kind} {ident}" for kind, ident in self._tagged_ec2(run_filter)]
        found += [f"s3:bucket {name}" for name in _run_buckets(self.s3, self.run_id)]
        found += [f"{kind} {ident}" for kind, ident in _iam_items(self.iam, _run_iam_path(self.run_id))]
        return found


# -- reaping ---------------------------------------------------------------------------------

# What destroy() deletes after instances and images, in dependency order:
# (kind, describe operation, result key, id key).
_EC2_TEARDOWN_ORDER = (
    ("ec2:snapshot", "describe_snapshots", "Snapshots", "SnapshotId"),
    ("ec2:volume", "describe_volumes", "Volumes", "VolumeId"),
    ("ec2:security-group", "describe_security_groups", "SecurityGroups", "GroupId"),
    ("ec2:route-table", "describe_route_tables", "RouteTables", "RouteTableId"),
    ("ec2:internet-gateway", "describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    ("ec2:subnet", "describe_subnets", "Subnets", "SubnetId"),
    ("ec2:vpc", "describe_vpcs", "Vpcs", "VpcId"),
)

_GONE_CODES = {"NoSuchEntity", "NoSuchBucket", "InvalidAMIID.Unavailable", "ResourceNotFoundException"}


def reap(kind: str, ident: str, attrs: Optional[dict] = None, clock: Optional[Clock] = None,
         timeout: float = 900.0, interval: float = 5.0) -> None:
    """Delete one ledger resource (``--teardown-only`` walks the ledger in reverse).

    A resource that is already gone counts as deleted. Any other failure raises
    :class:`ReapError` naming the kind and id; an unknown kind raises ``ValueError``.
    To reap a whole ledger, a :class:`Reaper` per region saves creating clients each time.
    """
    Reaper((attrs or {}).get("region"), clock, timeout, interval).reap(kind, ident)


class Reaper:
    """Deletes resources of one region one at a time, first removing what AWS requires
    (attachments, associations, versions). Clients are created once and reused."""

    def __init__(self, region: Optional[str] = None, clock: Optional[Clock] = None,
                 timeout: float = 900.0, interval: float = 5.0, ec2=None, iam=None, s3=None):
        self.region, self.timeout, self.interval = region, timeout, interval
        self.clock = clock or default_clock()
        self._clients = {"ec2": ec2, "iam": iam, "s3": s3}

    def client(self, service: str):
        if self._clients.get(service) is None:
            self._clients[service] = aws.client(service, self.region)
        return self._clients[service]

    def reap(self, kind: str, ident: str) -> None:
        """Delete one resource; see :func:`reap`."""
        if kind not in REAPABLE_KINDS:
            raise ValueError(f"unknown resource kind {kind!r} (known: {', '.join(REAPABLE_KINDS)})")
        delete = getattr(self, "delete_" + re.sub(r"[:-]", "_", kind))
        try:
            delete(ident)
        except ClientError as error:
            if _is_gone(error):
                log.info("%s %s already gone", kind, ident)
                return
            raise ReapError(f"could not delete {kind} {ident}: {error_code(error)}: "
                            f"{error.response.get('Error', {}).get('Message', error)}") from error
        except WaitTimeout as error:
            raise ReapError(f"could not delete {kind} {ident}: {error}") from error
        log.info("deleted %s %s", kind, ident)

    def _wait(self, condition: Callable[[], object], description: str) -> None:
        wait_until(condition, self.timeout, self.interval, description, clock=self.clock)

    def _retry_dependency(self, call: Callable[[], object], description: str) -> None:
        """Dependencies (ENIs of terminated instances, mapped public IPs) clear a while later."""
        aws.retrying(call, lambda error: error_code(error) == "DependencyViolation", self.timeout,
                     description, self.interval, self.clock)

    # EC2

    def terminate(self, instance_ids: list[str]) -> None:
        """Terminate instances and wait until every one is terminated."""
        if not instance_ids:
            return
        ec2 = self.client("ec2")
        ec2.terminate_instances(InstanceIds=instance_ids)

        def all_terminated() -> bool:
            found = _instances(ec2, Filters=[{"Name": "instance-id", "Values": instance_ids}])
            return all(instance["State"]["Name"] == "terminated" for instance in found)

        self._wait(all_terminated, f"instances {', '.join(instance_ids)} terminated")

    def delete_ec2_instance(self, ident: str) -> None:
        self.terminate([ident])

    def delete_ec2_volume(self, ident: str) -> None:
        ec2 = self.client("ec2")
        state = _volume_state(ec2, ident)
        if state == "in-use":
            volume = ec2.describe_volumes(VolumeIds=[ident])["Volumes"][0]
            for attachment in volume.get("Attachments", []):
                ec2.detach_volume(VolumeId=ident, InstanceId=attachment["InstanceId"],
                                  Device=attachment["Device"])
            self._wait(lambda: _volume_state(ec2, ident) in ("available", None),
                       f"volume {ident} detached")
        if state not in ("deleting", "deleted", None):
            ec2.delete_volume(VolumeId=ident)
        self._wait(lambda: _volume_state(ec2, ident) in ("deleted", None), f"volume {ident} deleted")

    def delete_ec2_image(self, ident: str) -> None:
        ec2 = self.client("ec2")
        images = ec2.describe_images(ImageIds=[ident])["Images"]
        if not images:
            return
        ec2.deregister_image(ImageId=ident)
        for snapshot_id in _image_snapshot_ids(images[0]):
            self.reap("ec2:snapshot", snapshot_id)

    def delete_ec2_snapshot(self, ident: str) -> None:
        self.client("ec2").delete_snapshot(SnapshotId=ident)

    def delete_ec2_security_group(self, ident: str) -> None:
        ec2 = self.client("ec2")
        self._retry_dependency(lambda: ec2.delete_security_group(GroupId=ident),
                               f"security group {ident} deletable")

    def delete_ec2_route_table(self, ident: str) -> None:
        ec2 = self.client("ec2")
        table = ec2.describe_route_tables(RouteTableIds=[ident])["RouteTables"][0]
        for association in table.get("Associations", []):
            if not association.get("Main"):
                ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=ident)

    def delete_ec2_internet_gateway(self, ident: str) -> None:
        ec2 = self.client("ec2")
        gateway = ec2.describe_internet_gateways(InternetGatewayIds=[ident])["InternetGateways"][0]
        for attachment in gateway.get("Attachments", []):
            vpc_id = attachment["VpcId"]
            self._retry_dependency(
                partial(ec2.detach_internet_gateway, InternetGatewayId=ident, VpcId=vpc_id),
                f"internet gateway {ident} detachable from {vpc_id}")
        ec2.delete_internet_gateway(InternetGatewayId=ident)

    def delete_ec2_subnet(self, ident: str) -> None:
        ec2 = self.client("ec2")
        self._retry_dependency(lambda: ec2.delete_subnet(SubnetId=ident), f"subnet {ident} deletable")

    def delete_ec2_vpc(self, ident: str) -> None:
        ec2 = self.client("ec2")
        self._retry_dependency(lambda: ec2.delete_vpc(VpcId=ident), f"VPC {ident} deletable")

    # S3

    def empty_bucket(self, bucket: str, prefix: str = "") -> None:
        """Delete every object (and every version) under ``prefix``."""
        s3 = self.client("s3")
        batch = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                batch.append({"Key": item["Key"], "VersionId": item["VersionId"]})
        for start in range(0, len(batch), 1000):
            response = s3.delete_objects(Bucket=bucket,
                                         Delete={"Objects": batch[start:start + 1000], "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise LabError(f"could not empty bucket {bucket}: {first.get('Key')}: "
                               f"{first.get('Code')} {first.get('Message')}")

    def delete_s3_bucket(self, ident: str) -> None:
        self.empty_bucket(ident)
        self.client("s3").delete_bucket(Bucket=ident)

    def delete_dynamodb_table(self, ident: str) -> None:
        dynamodb = self.client("dynamodb")
        dynamodb.delete_table(TableName=ident)

        def gone() -> bool:
            try:
                dynamodb.describe_table(TableName=ident)
            except ClientError as error:
                return error_code(error) == "ResourceNotFoundException"
            return False

        self._wait(gone, f"DynamoDB table {ident} to be deleted")

    # IAM

    def delete_iam_instance_profile(self, ident: str) -> None:
        iam = self.client("iam")
        profile = iam.get_instance_profile(InstanceProfileName=ident)["InstanceProfile"]
        for role in profile["Roles"]:
            iam.remove_role_from_instance_profile(InstanceProfileName=ident, RoleName=role["RoleName"])
        iam.delete_instance_profile(InstanceProfileName=ident)

    def delete_iam_role(self, ident: str) -> None:
        iam = self.client("iam")
        for policy in _paged(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=ident):
            iam.detach_role_policy(RoleName=ident, PolicyArn=policy["PolicyArn"])
        for name in _paged(iam, "list_role_policies", "PolicyNames", RoleName=ident):
            iam.delete_role_policy(RoleName=ident, PolicyName=name)
        for profile in _paged(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=ident):
            iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"],
                                                  RoleName=ident)
        iam.delete_role(RoleName=ident)

    def delete_iam_policy(self, ident: str) -> None:
        iam = self.client("iam")
        for page in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=ident):
            for role in page.get("PolicyRoles", []):
                iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=ident)
            for user in page.get("PolicyUsers", []):
                iam.detach_user_policy(UserName=user["UserName"], PolicyArn=ident)
            for group in page.get("PolicyGroups", []):
                iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=ident)
        for version in _paged(iam, "list_policy_versions", "Versions", PolicyArn=ident):
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=ident, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=ident)


# -- small helpers ---------------------------------------------------------------------------

_EC2_TRUST_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def bucket_name(run_id: str) -> str:
    """``gauntlet-lab-<run id>``, lowercased and reduced to what S3 allows (max 63 chars)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", run_id.lower()).strip("-")
    return (BUCKET_PREFIX + slug)[:63].rstrip("-")


def _run_iam_path(run_id: str) -> str:
    return f"/gauntlet/{re.sub(r'[^A-Za-z0-9_.-]+', '-', run_id)}/"


def _is_gone(error: ClientError) -> bool:
    code = error_code(error)
    return code.endswith(".NotFound") or code in _GONE_CODES


def _profile_not_ready(error: ClientError) -> bool:
    """EC2 does not see a new instance profile for a few seconds."""
    message = error.response.get("Error", {}).get("Message", "").lower()
    return error_code(error) == "InvalidParameterValue" and "instance profile" in message


def _create_unless_exists(create: Callable[..., dict], **params) -> Optional[dict]:
    """The create response, or ``None`` when the IAM item already exists."""
    try:
        return create(**params)
    except ClientError as error:
        if error_code(error) == "EntityAlreadyExists":
            return None
        raise


def _paged(client, operation: str, key: str, **kwargs) -> Iterator[dict]:
    """Items under ``key`` across every page of a list/describe call."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def _instances(ec2, **kwargs) -> Iterator[dict]:
    for reservation in _paged(ec2, "describe_instances", "Reservations", **kwargs):
        yield from reservation["Instances"]


def _volume_state(ec2, volume_id: str) -> Optional[str]:
    """The volume's state, ``None`` once it no longer exists."""
    volumes = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])["Volumes"]
    return volumes[0]["State"] if volumes else None


def _available_image(ec2, image_id: str) -> Optional[dict]:
    images = ec2.describe_images(ImageIds=[image_id])["Images"]
    if images and images[0]["State"] == "failed":
        raise LabError(f"image {image_id} failed: {images[0].get('StateReason', {})}")
    return images[0] if images and images[0]["State"] == "available" else None


def _image_snapshot_ids(image: dict) -> list[str]:
    return [mapping["Ebs"]["SnapshotId"] for mapping in image.get("BlockDeviceMappings", [])
            if mapping.get("Ebs", {}).get("SnapshotId")]


def _host_order(host: Host) -> tuple:
    number = re.search(r"(\d+)$", host.name)
    return (ROLE_ORDER.get(host.role, len(ROLE_ORDER)), int(number.group(1)) if number else 0, host.name)


def _run_buckets(s3, run_id: str) -> list[str]:
    """Buckets tagged with the run id (only Gauntlet-named buckets are inspected)."""
    names = []
    for bucket in s3.list_buckets().get("Buckets", []):
        if not bucket["Name"].startswith(BUCKET_PREFIX):
            continue
        try:
            tags = tag_dict(s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"])
        except ClientError as error:
            if error_code(error) in ("NoSuchTagSet", "NoSuchBucket"):
                continue
            raise
        if tags.get(RUN_ID_TAG) == run_id:
            names.append(bucket["Name"])
    return names


def _iam_items(iam, path_prefix: str) -> list[tuple[str, str]]:
    """(kind, id) of IAM items under a path, in deletion order: profiles, roles, policies.

    Filtered here as well, because not every implementation honours ``PathPrefix``.
    """
    def under(item: dict) -> bool:
        return item["Path"].startswith(path_prefix)

    profiles = _paged(iam, "list_instance_profiles", "InstanceProfiles", PathPrefix=path_prefix)
    roles = _paged(iam, "list_roles", "Roles", PathPrefix=path_prefix)
    policies = _paged(iam, "list_policies", "Policies", Scope="Local", PathPrefix=path_prefix)
    return ([("iam:instance-profile", p["InstanceProfileName"]) for p in profiles if under(p)]
            + [("iam:role", r["RoleName"]) for r in roles if under(r)]
            + [("iam:policy", p["Arn"]) for p in policies if under(p)])


# -- the config bundle -----------------------------------------------------------------------

_CA_PLACEHOLDER = (
    "-----BEGIN CERTIFICATE-----\n"
    "R2F1bnRsZXQgbGFiIENBIHBsYWNlaG9sZGVyOiB0aGUgSzNzIHNlcnZlciBDQSByZXBsYWNlcyBpdC4=\n"
    "-----END CERTIFICATE-----\n"
)


def render_config_bundle(cluster_name: str, cluster_id: str, region: str, hosts: list[Host],
                         token: str) -> dict[str, str]:
    """The bundle's files (relative path -> text), generated from the cluster's hosts."""
    db_ips = [h.private_ip for h in hosts if h.role == "db" and h.private_ip]
    seeds = db_ips[:3]
    control = next(h for h in hosts if h.role == "control")
    server = f"https://{control.private_ip}:{K3S_API_PORT}"
    patch = _cassandra_patch(cluster_name, seeds)
    return {
        "kubeconfig": _render_kubeconfig(cluster_name, server, token,
                                         base64.b64encode(_CA_PLACEHOLDER.encode()).decode()),
        "environment.sh": _render_environment(cluster_name, cluster_id, region, hosts, server, seeds),
        "setup_instance.sh": _render_setup_instance(cluster_name, cluster_id, hosts, server, seeds),
        "cassandra.patch.yaml": _yaml(patch, "Applied over every db node's cassandra.yaml."),
        "cassandra-config/cassandra.yaml": _yaml({**_CASSANDRA_BASE, **patch},
                                                 "Cassandra configuration of the lab's db nodes."),
        "cassandra-config/jvm.options": _JVM_OPTIONS,
    }


def _yaml(data: dict, comment: str) -> str:
    return f"# {comment} Generated by Gauntlet.\n" + yaml.safe_dump(data, sort_keys=False)


def _render_kubeconfig(cluster_name: str, server: str, token: str, ca_data: str) -> str:
    user = f"{cluster_name}-admin"
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "preferences": {},
    }, sort_keys=False)


def _env_name(host: Host) -> str:
    return re.sub(r"[^A-Z0-9]", "_", host.name.upper())


def _render_environment(cluster_name: str, cluster_id: str, region: str, hosts: list[Host],
                        server: str, seeds: list[str]) -> str:
    def export(name: str, value: str) -> str:
        return f"export {name}={shlex.quote(value)}"

    lines = [
        f"# Environment of lab cluster {cluster_name} ({cluster_id}). Source it: . environment.sh",
        export("CLUSTER_NAME", cluster_name),
        export("CLUSTER_ID", cluster_id),
        export("AWS_REGION", region),
        'export CLUSTER_CONFIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        'export KUBECONFIG="$CLUSTER_CONFIG_DIR/kubeconfig"',
        export("K3S_SERVER", server),
        export("CASSANDRA_HOSTS", ",".join(h.private_ip for h in hosts if h.role == "db")),
        export("CASSANDRA_SEEDS", ",".join(seeds)),
    ]
    for host in hosts:
        lines.append(export(f"{_env_name(host)}_PRIVATE_IP", host.private_ip or ""))
        lines.append(export(f"{_env_name(host)}_PUBLIC_IP", host.public_ip or ""))
    lines += [f"alias {host.name}={shlex.quote('ssh ' + (host.public_ip or host.private_ip or ''))}"
              for host in hosts]
    return "\n".join(lines) + "\n"


def _render_setup_instance(cluster_name: str, cluster_id: str, hosts: list[Host], server: str,
                           seeds: list[str]) -> str:
    ips = "\n".join(f'  [{h.name}]="{h.private_ip}"' for h in hosts)
    roles = "\n".join(f'  [{h.name}]="{h.role}"' for h in hosts)
    return f"""#!/usr/bin/env bash
# Instance setup of lab cluster {cluster_name} ({cluster_id}): run as root on every node.
# Generated by Gauntlet from the cluster's EC2 hosts; running it twice is harmless.
set -euo pipefail

CLUSTER_NAME={shlex.quote(cluster_name)}
K3S_SERVER={shlex.quote(server)}
CASSANDRA_SEEDS={shlex.quote(",".join(seeds))}
declare -A NODE_IPS=(
{ips}
)
declare -A NODE_ROLES=(
{roles}
)

self_ip="$(hostname -I | awk '{{print $1}}')"
self_name=""
for name in "${{!NODE_IPS[@]}}"; do
  if [[ "${{NODE_IPS[$name]}}" == "$self_ip" ]]; then self_name="$name"; fi
done
if [[ -z "$self_name" ]]; then
  echo "setup_instance: $self_ip is not a node of $CLUSTER_NAME" >&2
  exit 1
fi
hostnamectl set-hostname "$self_name"

# Every node resolves every other node by name.
sed -i '/# gauntlet-lab$/d' /etc/hosts
for name in "${{!NODE_IPS[@]}}"; do
  echo "${{NODE_IPS[$name]}} $name # gauntlet-lab" >> /etc/hosts
done

# Database nodes keep Cassandra's data on the EBS data volume when there is one.
if [[ "${{NODE_ROLES[$self_name]}}" == "db" ]]; then
  mkdir -p /mnt/cassandra
  for device in /dev/nvme1n1 /dev/xvdf {DATA_DEVICE}; do
    if [[ -b "$device" ]]; then
      blkid "$device" >/dev/null || mkfs.xfs -q "$device"
      mountpoint -q /mnt/cassandra || mount "$device" /mnt/cassandra
      break
    fi
  done
  mkdir -p /mnt/cassandra/{{data,commitlog,hints,saved_caches}}
  sed -i "s/^listen_address:.*/listen_address: $self_ip/; s/^rpc_address:.*/rpc_address: $self_ip/" \\
    /etc/cassandra/cassandra.yaml 2>/dev/null || true
fi

# The control node runs the K3s server; the others join it as agents.
echo "node $self_name (${{NODE_ROLES[$self_name]}}) of $CLUSTER_NAME;" \
  "K3s server $K3S_SERVER; seeds $CASSANDRA_SEEDS"
"""


def _cassandra_patch(cluster_name: str, seeds: list[str]) -> dict:
    return {
        "cluster_name": cluster_name,
        "num_tokens": 4,
        "seed_provider": [{"class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                           "parameters": [{"seeds": ",".join(seeds)}]}],
        "endpoint_snitch": "Ec2Snitch",
        "data_file_directories": ["/mnt/cassandra/data"],
        "commitlog_directory": "/mnt/cassandra/commitlog",
        "hints_directory": "/mnt/cassandra/hints",
        "saved_caches_directory": "/mnt/cassandra/saved_caches",
        "concurrent_reads": 64,
        "concurrent_writes": 64,
        "trickle_fsync": True,
    }


_CASSANDRA_BASE = {
    "cluster_name": "Test Cluster",
    "num_tokens": 16,
    "allocate_tokens_for_local_replication_factor": 3,
    "hinted_handoff_enabled": True,
    "max_hint_window": "3h",
    "authenticator": "AllowAllAuthenticator",
    "authorizer": "AllowAllAuthorizer",
    "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
    "commitlog_sync": "periodic",
    "commitlog_sync_period": "10000ms",
    "commitlog_segment_size": "32MiB",
    "listen_address": "localhost",  # set per node by setup_instance.sh
    "rpc_address": "localhost",
    "storage_port": 7000,
    "native_transport_port": 9042,
    "start_native_transport": True,
    "compaction_throughput": "64MiB/s",
    "read_request_timeout": "5000ms",
    "write_request_timeout": "2000ms",
    "request_timeout": "10000ms",
    "disk_failure_policy": "stop",
    "commit_failure_policy": "stop",
}

_JVM_OPTIONS = """\
# JVM options of the lab's Cassandra nodes. Generated by Gauntlet.
-Xms1G
-Xmx1G
-XX:+UseG1GC
-XX:MaxGCPauseMillis=300
-XX:+ParallelRefProcEnabled
-XX:+HeapDumpOnOutOfMemoryError
-XX:+ExitOnOutOfMemoryError
-Xlog:gc*:file=/var/log/cassandra/gc.log:time,uptime:filecount=10,filesize=10M
-Djava.net.preferIPv4Stack=true
"""
