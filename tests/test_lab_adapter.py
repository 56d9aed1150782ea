"""The lab adapter against the offline endpoint: real boto3 calls to moto on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
import uuid
from types import SimpleNamespace

import pytest
import yaml
from botocore.exceptions import ClientError

from gauntlet.adapters import aws
from gauntlet.adapters.lab import KINDS, Boto3Lab, LabError, Reaper, ReapError, bucket_name, reap, run_command
from gauntlet.clock import VirtualClock, WaitTimeout

REQUIRED_TAGS = {"ClusterId", "created", aws.RUN_ID_TAG, aws.EXPIRES_TAG}
# Calls that may name a resource before it is recorded: they create it under a name Gauntlet
# chose, probe for it, or (a policy) name the bucket they will grant access to.
NAMING_CALLS = {"CreateRole", "CreateInstanceProfile", "CreatePolicy", "HeadBucket", "CreateBucket"}
BUNDLE = ["cassandra-config/cassandra.yaml", "cassandra-config/jvm.options", "cassandra.patch.yaml",
          "environment.sh", "kubeconfig", "setup_instance.sh"]


class Recorder:
    """One ordered log of on_create calls and of every API call the lab's clients make."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_create(self, kind: str, ident: str, **attrs) -> None:
        self.events.append(("create", kind, ident, attrs))

    def watch(self, lab: Boto3Lab) -> None:
        for client in (lab.ec2, lab.iam, lab.s3, lab.sts):
            client.meta.events.register("provide-client-params", self._on_call)

    def _on_call(self, params, model, **_) -> None:
        self.events.append(("call", model.name, json.dumps(params, default=str)))

    @property
    def ledger(self) -> list[tuple[str, str, dict]]:
        return [event[1:] for event in self.events if event[0] == "create"]


def new_lab(tmp_path, recorder: Recorder | None = None, **options) -> Boto3Lab:
    lab = Boto3Lab(f"Run_{uuid.uuid4().hex[:8]}/t", "lab", on_create=recorder and recorder.on_create,
                   work_dir=tmp_path, poll_interval=0.01, **options)
    if recorder:
        recorder.watch(lab)
    return lab


@pytest.fixture(scope="module")
def provisioned(endpoint, tmp_path_factory):
    """A whole lab: IAM, cluster with EBS, a baked image, config bundle and its backup."""
    recorder = Recorder()
    lab = new_lab(tmp_path_factory.mktemp("lab"), recorder)
    policy_arns = lab.apply_iam_policies()
    cluster = lab.init_cluster(db_count=3, ebs=True)
    image_id = lab.build_image()
    config_dir = lab.write_cluster_config()
    bucket, prefix = lab.backup_to_s3()
    yield SimpleNamespace(lab=lab, recorder=recorder, cluster=cluster, image_id=image_id,
                          policy_arns=policy_arns, config_dir=config_dir, bucket=bucket, prefix=prefix)
    lab.destroy()


# -- helpers of the aws module ------------------------------------------------------------------

def test_run_tags_carry_the_run_id_and_an_expiry_six_hours_ahead():
    clock = VirtualClock(start=1_767_225_600)  # 2026-01-01T00:00:00Z
    assert aws.run_tags("r-1", clock=clock) == [
        {"Key": "gauntlet:run-id", "Value": "r-1"},
        {"Key": "gauntlet:expires", "Value": "2026-01-01T06:00:00Z"},
    ]
    assert aws.run_tags("r-1", ttl_hours=1, clock=clock)[1]["Value"] == "2026-01-01T01:00:00Z"


def test_clients_use_standard_retries(endpoint):
    assert aws.client("ec2").meta.config.retries["mode"] == "standard"
    assert aws.client("s3", "eu-west-1").meta.region_name == "eu-west-1"


def test_retrying_retries_only_the_named_errors():
    def failing(code):
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")

    outcomes = iter([failing("DependencyViolation"), failing("DependencyViolation"), "done"])

    def call():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def is_dependency(error):
        return aws.error_code(error) == "DependencyViolation"

    assert aws.retrying(call, is_dependency, 60, "x", clock=VirtualClock()) == "done"
    with pytest.raises(ClientError, match="Boom"):
        aws.retrying(lambda: (_ for _ in ()).throw(failing("Boom")), is_dependency, 60, "x",
                     clock=VirtualClock())
    with pytest.raises(WaitTimeout, match="DependencyViolation"):
        aws.retrying(lambda: (_ for _ in ()).throw(failing("DependencyViolation")), is_dependency,
                     30, "x", clock=VirtualClock())


def test_bucket_names_are_valid_for_any_run_id():
    assert bucket_name("Run_2026/11.21") == "gauntlet-lab-run-2026-11-21"
    long = bucket_name("X" * 80 + "-")
    assert len(long) <= 63 and not long.endswith("-") and long.startswith("gauntlet-lab-x")


# -- build ---------------------------------------------------------------------------------------

def test_build_reports_success_and_failure_without_raising(endpoint, tmp_path):
    lab = new_lab(tmp_path)
    ok = lab.build([sys.executable, "-c", "print('BUILD SUCCESSFUL')"])
    assert (ok.exit_code, ok.output_tail.strip()) == (0, "BUILD SUCCESSFUL") and ok.duration >= 0
    failed = lab.build([sys.executable, "-c",
                        "import sys; print('compiling'); print('error: boom', file=sys.stderr); sys.exit(3)"])
    assert failed.exit_code == 3
    assert "compiling" in failed.output_tail and "error: boom" in failed.output_tail


def test_build_keeps_only_the_output_tail():
    result = run_command([sys.executable, "-c", "for i in range(200): print('line', i)"])
    lines = result.output_tail.splitlines()
    assert len(lines) == 50 and lines[-1] == "line 199"


def test_build_of_a_missing_command_or_a_hung_one_is_a_result(tmp_path):
    missing = run_command(["gauntlet-no-such-build-tool"])
    assert missing.exit_code == 127 and "gauntlet-no-such-build-tool" in missing.output_tail
    hang = "import threading; print('started', flush=True); threading.Event().wait()"
    hung = run_command([sys.executable, "-c", hang], timeout=0.5)
    assert hung.exit_code == 124
    assert "started" in hung.output_tail and "timed out after 0.5s" in hung.output_tail


# -- provisioning --------------------------------------------------------------------------------

def test_every_kind_of_resource_is_recorded_with_region_and_account(provisioned):
    ledger = provisioned.recorder.ledger
    assert {kind for kind, _, _ in ledger} == set(KINDS)
    for kind, ident, attrs in ledger:
        assert attrs["region"] == "us-east-1", (kind, ident)
        assert attrs["account"] == "123456789012", (kind, ident)
        assert attrs["run_id"] == provisioned.lab.run_id
    assert sorted(ident for kind, ident, _ in ledger if kind == "iam:policy") == sorted(
        provisioned.policy_arns)
    assert [kind for kind, _, _ in ledger].count("ec2:instance") == 6  # 5 nodes + the image builder
    assert [kind for kind, _, _ in ledger].count("ec2:volume") == 3  # one data volume per db node


def test_each_resource_is_recorded_before_any_call_uses_it(provisioned):
    events = provisioned.recorder.events
    for index, event in enumerate(events):
        if event[0] != "create":
            continue
        ident = event[2]
        earlier = [e for e in events[:index] if e[0] == "call" and ident in e[2]
                   and e[1] not in NAMING_CALLS]
        assert not earlier, f"{event[1]} {ident} used before it was recorded: {earlier[0][1]}"
    vpc_id = provisioned.cluster.vpc_id
    assert any(e[0] == "call" and vpc_id in e[2] for e in events)  # and it is used afterwards


def test_every_resource_carries_the_cluster_and_run_tags(provisioned):
    lab = provisioned.lab
    ec2_ids = [ident for kind, ident, _ in provisioned.recorder.ledger if kind.startswith("ec2:")]
    root_volumes = [v["VolumeId"] for v in lab.ec2.describe_volumes(Filters=[
        {"Name": "attachment.device", "Values": ["/dev/sda1"]},
        {"Name": "tag:ClusterId", "Values": [lab.cluster_id]}])["Volumes"]]
    image = lab.ec2.describe_images(ImageIds=[provisioned.image_id])["Images"][0]
    snapshots = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
    assert len(root_volumes) == 5 and snapshots
    tags_of: dict[str, dict] = {}
    for tag in lab.ec2.describe_tags(Filters=[{"Name": "resource-id",
                                               "Values": ec2_ids + root_volumes + snapshots}])["Tags"]:
        tags_of.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag["Value"]
    for ident in ec2_ids + root_volumes + snapshots:
        tags = tags_of.get(ident, {})
        assert REQUIRED_TAGS <= set(tags), (ident, tags)
        assert tags["ClusterId"] == lab.cluster_id and tags[aws.RUN_ID_TAG] == lab.run_id
    bucket_tags = aws.tag_dict(lab.s3.get_bucket_tagging(Bucket=provisioned.bucket)["TagSet"])
    assert REQUIRED_TAGS <= set(bucket_tags)
    iam_tags = [lab.iam.list_role_tags(RoleName=lab.role_name)["Tags"],
                lab.iam.get_instance_profile(InstanceProfileName=lab.instance_profile_name)[
                    "InstanceProfile"]["Tags"]]
    iam_tags += [lab.iam.list_policy_tags(PolicyArn=arn)["Tags"] for arn in provisioned.policy_arns]
    for tags in iam_tags:
        assert REQUIRED_TAGS <= set(aws.tag_dict(tags))


def test_hosts_lists_every_node_with_its_role_from_a_fresh_adapter(provisioned):
    lab = provisioned.lab
    hosts = Boto3Lab.attach(lab.run_id, lab.cluster_name, lab.cluster_id).hosts()
    assert [(h.name, h.role, h.state) for h in hosts] == [
        ("db0", "db", "running"), ("db1", "db", "running"), ("db2", "db", "running"),
        ("app0", "app", "running"), ("control0", "control", "running")]
    assert all(h.private_ip.startswith("10.0.1.") and h.instance_id.startswith("i-") for h in hosts)
    assert hosts == provisioned.cluster.instances


def test_the_network_is_a_public_vpc_with_ssh_and_intra_vpc_access(provisioned):
    lab, cluster = provisioned.lab, provisioned.cluster
    ec2 = lab.ec2
    assert ec2.describe_vpc_attribute(VpcId=cluster.vpc_id, Attribute="enableDnsSupport")[
        "EnableDnsSupport"]["Value"] is True
    gateway = ec2.describe_internet_gateways(InternetGatewayIds=[cluster.internet_gateway_id])
    assert gateway["InternetGateways"][0]["Attachments"][0]["VpcId"] == cluster.vpc_id
    table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id",
                                                "Values": cluster.subnet_ids}])["RouteTables"][0]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": cluster.internet_gateway_id} in [
        {k: r.get(k) for k in ("DestinationCidrBlock", "GatewayId")} for r in table["Routes"]]
    rules = ec2.describe_security_groups(GroupIds=[cluster.security_group_id])[
        "SecurityGroups"][0]["IpPermissions"]
    assert any(r.get("FromPort") == 22 and r["IpProtocol"] == "tcp" for r in rules)
    assert any(r["IpProtocol"] == "-1" and r["IpRanges"][0]["CidrIp"] == "10.0.0.0/16" for r in rules)


def test_vpc_and_network_tags_name_the_cluster_and_the_run(provisioned):
    lab = provisioned.lab
    tags = lab.vpc_tags()
    assert tags["Name"] == lab.label and tags["ClusterId"] == lab.cluster_id
    assert tags[aws.RUN_ID_TAG] == lab.run_id and tags[aws.EXPIRES_TAG].endswith("Z")
    network = lab.network_tags()
    assert sorted(ident.split("-")[0] for ident in network) == ["igw", "rtb", "sg", "subnet", "vpc"]
    for ident, resource_tags in network.items():
        assert REQUIRED_TAGS <= set(resource_tags), ident


def test_ebs_gives_each_db_node_one_attached_gp3_data_volume(provisioned):
    lab = provisioned.lab
    volume_ids = [ident for kind, ident, _ in provisioned.recorder.ledger if kind == "ec2:volume"]
    volumes = lab.ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
    db_ids = {h.instance_id for h in lab.hosts() if h.role == "db"}
    assert {v["Attachments"][0]["InstanceId"] for v in volumes} == db_ids
    assert {v["VolumeType"] for v in volumes} == {"gp3"} and {v["State"] for v in volumes} == {"in-use"}
    by_node = lab.data_volumes()
    assert sorted(by_node) == ["db0", "db1", "db2"]
    assert sorted(v for ids in by_node.values() for v in ids) == sorted(volume_ids)


def test_build_image_bakes_an_image_and_terminates_its_builder(provisioned):
    lab = provisioned.lab
    image = lab.describe_image(provisioned.image_id)
    assert image["State"] == "available" and image["Name"].startswith(f"gauntlet-lab-{lab.cluster_id}-")
    assert image["Tags"][aws.RUN_ID_TAG] == lab.run_id
    with pytest.raises(LabError, match="does not exist"):
        lab.describe_image("ami-0123456789abcdef0")
    builder = next(ident for kind, ident, attrs in provisioned.recorder.ledger
                   if kind == "ec2:instance" and attrs["role"] == "builder")
    state = lab.ec2.describe_instances(InstanceIds=[builder])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "terminated"
    assert "builder0" not in [h.name for h in lab.hosts()]


def test_backup_holds_the_config_bundle_under_the_cluster_prefix(provisioned):
    lab = provisioned.lab
    assert provisioned.bucket == bucket_name(lab.run_id)
    assert provisioned.prefix == f"clusters/lab-{lab.cluster_id}/config/"
    assert lab.backup_listing() == BUNDLE
    key = provisioned.prefix + "cassandra-config/cassandra.yaml"
    body = lab.s3.get_object(Bucket=provisioned.bucket, Key=key)["Body"].read()
    assert body == (provisioned.config_dir / "cassandra-config/cassandra.yaml").read_bytes()


def test_node_role_carries_both_policies_and_backup_files_read_back(provisioned):
    lab = provisioned.lab
    assert sorted(lab.attached_policy_arns()) == sorted(provisioned.policy_arns)
    control = next(h for h in lab.hosts() if h.role == "control")
    assert f"server: https://{control.private_ip}:6443" in lab.backup_object("kubeconfig")
    with pytest.raises(LabError, match="does not exist"):
        lab.backup_object("no-such-file")


def test_kubeconfig_is_real_points_at_control0_and_holds_the_only_copy_of_the_token(provisioned):
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    lab, config_dir = provisioned.lab, provisioned.config_dir
    control = next(h for h in lab.hosts() if h.role == "control")
    path = config_dir / "kubeconfig"
    assert path.stat().st_mode & 0o777 == 0o600
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == f"https://{control.private_ip}:6443"
    assert configuration.api_key["BearerToken"] == f"Bearer {lab.kubeconfig_token}"
    assert len(lab.kubeconfig_token) >= 32
    for relative in BUNDLE:
        if relative != "kubeconfig":
            assert lab.kubeconfig_token not in (config_dir / relative).read_text(), relative


def test_cassandra_configs_seed_from_the_db_nodes(provisioned):
    lab, config_dir = provisioned.lab, provisioned.config_dir
    db_ips = [h.private_ip for h in lab.hosts() if h.role == "db"]
    patch = yaml.safe_load((config_dir / "cassandra.patch.yaml").read_text())
    full = yaml.safe_load((config_dir / "cassandra-config/cassandra.yaml").read_text())
    for config in (patch, full):
        assert config["cluster_name"] == "lab"
        assert config["seed_provider"][0]["parameters"][0]["seeds"] == ",".join(db_ips)
    assert "-Xmx" in (config_dir / "cassandra-config/jvm.options").read_text()
    environment = (config_dir / "environment.sh").read_text()
    assert f"export CASSANDRA_HOSTS={','.join(db_ips)}" in environment


def test_leftovers_lists_what_the_run_still_has(provisioned):
    left = provisioned.lab.leftovers()
    kinds = {entry.split()[0] for entry in left}
    assert kinds == set(KINDS) | {"ec2:snapshot"}
    assert f"s3:bucket {provisioned.bucket}" in left


# -- teardown ------------------------------------------------------------------------------------

def provision_everything(lab: Boto3Lab) -> None:
    lab.apply_iam_policies()
    lab.init_cluster(db_count=1, ebs=True)
    lab.build_image()
    lab.backup_to_s3()


def test_destroy_and_ledger_reaping_each_leave_zero_leftovers(endpoint, tmp_path):
    """Two clusters of one run: one goes by destroy(), the other by reaping its ledger."""
    kept_ledger, gone_ledger = Recorder(), Recorder()
    kept = new_lab(tmp_path, kept_ledger)
    gone = Boto3Lab(kept.run_id, "other", on_create=gone_ledger.on_create, work_dir=tmp_path,
                    poll_interval=0.01)
    provision_everything(kept)
    provision_everything(gone)
    assert {kind for kind, _, _ in kept_ledger.ledger} == set(KINDS)

    gone.destroy()
    left = kept.leftovers()
    gone_ids = [ident for kind, ident, _ in gone_ledger.ledger if kind != "s3:bucket"]
    assert [entry for entry in left if any(ident in entry for ident in gone_ids)] == []
    assert gone.hosts() == [] and len(kept.hosts()) == 3
    assert kept.backup_listing() == BUNDLE  # the run's shared bucket keeps the other backup

    for kind, ident, attrs in reversed(kept_ledger.ledger):
        reap(kind, ident, attrs, clock=VirtualClock(), interval=0.01)
    assert kept.leftovers() == []

    gone.destroy()  # everything is already gone: both ways are idempotent
    reaper = Reaper("us-east-1", VirtualClock(), interval=0.01)
    for kind, ident, _ in reversed(kept_ledger.ledger):
        reaper.reap(kind, ident)


@pytest.mark.parametrize("kind, ident", [
    ("ec2:instance", "i-0123456789abcdef0"), ("ec2:vpc", "vpc-0123456789abcdef0"),
    ("ec2:subnet", "subnet-0123456789abcdef0"), ("ec2:internet-gateway", "igw-0123456789abcdef0"),
    ("ec2:route-table", "rtb-0123456789abcdef0"), ("ec2:security-group", "sg-0123456789abcdef0"),
    ("ec2:volume", "vol-0123456789abcdef0"), ("ec2:image", "ami-0123456789abcdef0"),
    ("s3:bucket", "gauntlet-lab-never-created"), ("iam:role", "gauntlet-never-role"),
    ("iam:instance-profile", "gauntlet-never-profile"),
    ("iam:policy", "arn:aws:iam::123456789012:policy/gauntlet/never/gauntlet-never"),
])
def test_reaping_a_resource_that_is_already_gone_succeeds(endpoint, kind, ident):
    reap(kind, ident, {"region": "us-east-1"}, clock=VirtualClock())


def test_reap_failures_name_the_kind_and_the_id(endpoint):
    ec2 = aws.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    try:
        with pytest.raises(ReapError, match=f"ec2:vpc {vpc_id}.*DependencyViolation"):
            reap("ec2:vpc", vpc_id, {"region": "us-east-1"}, clock=VirtualClock(), timeout=30)
    finally:
        reap("ec2:subnet", subnet_id, {})
        reap("ec2:vpc", vpc_id, {})
    with pytest.raises(ValueError, match="unknown resource kind"):
        reap("ec2:teapot", "t-1", {})


def test_a_missing_cluster_or_backup_is_a_clear_error(endpoint, tmp_path):
    lab = new_lab(tmp_path)
    with pytest.raises(LabError, match="no VPC tagged"):
        lab.vpc_tags()
    with pytest.raises(LabError, match="does not exist"):
        lab.backup_listing()
    with pytest.raises(LabError, match="no control node"):
        lab.write_cluster_config()
    assert lab.hosts() == []
    assert os.listdir(tmp_path) == []
