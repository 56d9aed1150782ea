"""Lab steps: provisioning, hosts, status endpoint and S3 backup. Thin glue over the lab adapter."""

from __future__ import annotations

import sys
import tempfile

import requests
from behave import given, then, when
from hamcrest import (
    all_of,
    assert_that,
    contains_inanyorder,
    contains_string,
    equal_to,
    has_entries,
    has_item,
    has_key,
    has_length,
    has_properties,
    is_not,
    none,
    only_contains,
    starts_with,
)

from gauntlet.adapters.lab import Boto3Lab
from gauntlet.clock import wait_until
from gauntlet.harness.redaction import redactor
from gauntlet.local import supervisor

RUN_TAGS = ["ClusterId", "created", "gauntlet:run-id", "gauntlet:expires"]


def lab_settings(context) -> dict:
    return context.gauntlet.target.section("lab")


def lab(context) -> Boto3Lab:
    """The run's lab adapter, shared by every lab step of this process.

    A new cluster id is chosen once per run and kept in the run state, so a resumed run
    (``--start-step``) and the status server find the same cluster.
    """
    session = context.gauntlet
    if "lab" not in session.cache:
        run = session.run
        saved = run.state.get("lab") or {}
        work_dir = saved.get("work_dir")
        if not work_dir:  # the config bundle holds a kubeconfig token: keep it out of reports/
            work_dir = tempfile.mkdtemp(prefix=f"gauntlet-{run.run_id}-lab-")
            run.ledger.record("directory", work_dir)
        adapter = Boto3Lab(run.run_id, lab_settings(context).get("cluster_name", "lab"),
                           session.target.region, on_create=run.ledger.record,
                           work_dir=work_dir, cluster_id=saved.get("cluster_id"))
        redactor.register(adapter.kubeconfig_token)
        run.update_state("lab", cluster_name=adapter.cluster_name, cluster_id=adapter.cluster_id,
                         work_dir=work_dir)
        session.cache["lab"] = adapter
    return session.cache["lab"]


@given("the lab cluster is provisioned")
def step_cluster(context):
    """Reuse the run's cluster; provision one when no earlier step did (behave --tags=@ebs)."""
    if not (context.gauntlet.run.state.get("lab") or {}).get("hosts"):
        print("no cluster in this run yet: provisioning one for this scenario")
        lab(context).apply_iam_policies()
        provision(context)
        backup(context)
    context.cluster = lab(context).describe_cluster()


# -- build and initialize -------------------------------------------------------------------

@when("the lab machine image is built")
def step_build_image(context):
    image_id = lab(context).build_image()
    context.gauntlet.run.update_state("lab", image_id=image_id)
    context.image_id = image_id


@then("the image is available and tagged for this run")
def step_image_available(context):
    image = lab(context).describe_image(context.image_id)
    assert_that(image["State"], equal_to("available"))
    assert_that(image["Tags"], has_entries({"gauntlet:run-id": context.gauntlet.run.run_id}))


@when("the project is built")
def step_build(context):
    command = lab_settings(context).get("build_command") or ["true"]
    result = lab(context).build(command)
    context.gauntlet.record_command(command, result.exit_code, result.output_tail)


@then("the build exited {code:d}")
def step_build_exit(context, code):
    assert_that(context.gauntlet.last_command.exit_code, equal_to(code),
                "build command exit code")


@when("the lab IAM policies are applied")
def step_iam(context):
    context.policy_arns = lab(context).apply_iam_policies()


@then("the node role carries the lab policies")
def step_role_policies(context):
    assert_that(context.policy_arns, has_length(2))
    assert_that(lab(context).attached_policy_arns(), contains_inanyorder(*context.policy_arns))


@when("the cluster is initialized")
def step_init(context):
    provision(context)


def provision(context):
    settings = lab_settings(context)
    adapter = lab(context)
    cluster = adapter.init_cluster(
        db_count=settings.get("db_nodes", 3), instance_type=settings.get("instance_type", "t3.micro"),
        ebs="ebs" in context.gauntlet.options.enabled,
        image_id=(context.gauntlet.run.state.get("lab") or {}).get("image_id"))
    context.gauntlet.run.update_state(
        "lab", vpc_id=cluster.vpc_id,
        hosts=[{"name": h.name, "role": h.role, "instance_id": h.instance_id,
                "private_ip": h.private_ip, "public_ip": h.public_ip} for h in cluster.instances])
    context.cluster = cluster


@then("these nodes are running")
def step_nodes_running(context):
    expected = [(row["name"], row["role"]) for row in context.table]
    hosts = context.cluster.instances
    assert_that([(h.name, h.role) for h in hosts], contains_inanyorder(*expected))
    assert_that(hosts, only_contains(has_properties(state="running")))


@then("every network resource of the cluster is tagged for this run")
def step_network_tags(context):
    tags_by_resource = lab(context).network_tags()
    assert_that(tags_by_resource, all_of(*(has_key(starts_with(prefix)) for prefix in
                                           ("vpc-", "subnet-", "igw-", "sg-", "rtb-"))))
    for resource, tags in tags_by_resource.items():
        assert_that(tags, all_of(*(has_key(tag) for tag in RUN_TAGS)), resource)
        assert_that(tags["gauntlet:run-id"], equal_to(context.gauntlet.run.run_id), resource)


@then("the cluster config is backed up to S3")
def step_backup(context):
    backup(context)
    assert_that(lab(context).backup_listing(), has_item("kubeconfig"))


def backup(context):
    adapter = lab(context)
    adapter.write_cluster_config()
    bucket, prefix = adapter.backup_to_s3()
    context.gauntlet.run.update_state("lab", bucket=bucket, prefix=prefix)


@then("every db node has an EBS data volume attached")
def step_ebs(context):
    volumes = lab(context).data_volumes()
    db_nodes = [h.name for h in context.cluster.instances if h.role == "db"]
    for name in db_nodes:
        assert_that(volumes.get(name, []), has_length(1), f"data volumes of {name}")


@when("kubectl access is configured from the cluster's kubeconfig")
def step_kubectl(context):
    from gauntlet.adapters.k8s import Kubernetes

    context.kubernetes = Kubernetes(context.gauntlet.target.section("k8s")["kubeconfig"])


@then("every K3s node is Ready within {seconds:d} seconds")
def step_k3s_ready(context, seconds):
    def all_ready():
        nodes = context.kubernetes.nodes()
        return nodes and all(node["ready"] == "True" for node in nodes)

    wait_until(all_ready, seconds, interval=5, description="every K3s node to be Ready")


# -- VPC, hosts and the status endpoint -----------------------------------------------------

@then("the VPC carries the tags ClusterId, created, gauntlet:run-id and gauntlet:expires")
def step_vpc_tags(context):
    tags = lab(context).vpc_tags()
    assert_that(tags, all_of(*(has_key(tag) for tag in RUN_TAGS)))
    assert_that(tags, has_entries({"ClusterId": lab(context).cluster_id,
                                   "gauntlet:run-id": context.gauntlet.run.run_id}))


@when("the hosts are listed")
def step_hosts(context):
    context.hosts = lab(context).hosts()


@then("there are {count:d} hosts, each with a private address and state running")
def step_hosts_count(context, count):
    assert_that(context.hosts, has_length(count))
    assert_that(context.hosts, only_contains(has_properties(state="running",
                                                         private_ip=is_not(none()))))


@when("the lab status server is started")
def step_status_server(context):
    run = context.gauntlet.run
    adapter = lab(context)
    port_file = run.path("lab-status.port")
    port_file.unlink(missing_ok=True)
    marker = "gauntlet.sut.lab_status"
    service = supervisor.start(
        "lab-status",
        [sys.executable, "-m", marker, "--cluster", adapter.cluster_name, "--cluster-id",
         adapter.cluster_id, "--run-id", run.run_id, "--region", adapter.region,
         "--port", "0", "--port-file", str(port_file)],
        run.path("logs", "lab-status.log"),
        ready=port_file.exists,
        on_started=lambda s: run.ledger.record("process", s.pid, name="lab-status", marker=marker))
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    run.update_state("lab", status_url=url, status_pid=service.pid)
    context.status_url = url


@then("its /status returns the cluster, its {count:d} nodes, its networking and its S3 backup")
def step_status(context, count):
    response = requests.get(f"{context.status_url}/status", timeout=10)
    assert_that(response.status_code, equal_to(200))
    status = response.json()
    adapter = lab(context)
    assert_that(status["cluster"], has_entries(name=adapter.cluster_name, id=adapter.cluster_id))
    assert_that(status["nodes"], has_length(count))
    assert_that(status["networking"], has_entries(vpc_id=context.cluster.vpc_id))
    bucket, prefix = adapter.backup_location()
    assert_that(status["s3"], has_entries(bucket=bucket, prefix=prefix))
    assert_that(status["s3"]["objects"], has_item("kubeconfig"))


# -- S3 backup ------------------------------------------------------------------------------

@when("the S3 backup is listed")
def step_backup_listing(context):
    context.backup = lab(context).backup_listing()


@then("the backup contains")
def step_backup_contains(context):
    for row in context.table:
        wanted = row["file"]
        if wanted.endswith("/"):
            assert_that(context.backup, has_item(starts_with(wanted)), f"{wanted} in the backup")
        else:
            assert_that(context.backup, has_item(wanted))


@then("the backed-up kubeconfig points at the control node on port {port:d}")
def step_backup_kubeconfig(context, port):
    control = next(h for h in lab(context).hosts() if h.role == "control")
    text = lab(context).backup_object("kubeconfig")
    assert_that(text, contains_string(f"server: https://{control.private_ip}:{port}"))
