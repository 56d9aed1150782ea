"""The diagnostics collectors: what is gathered for a failed step, per target capability."""

from __future__ import annotations

import os
import subprocess
from typing import List

from gauntlet.harness.diagnostics import Collector, CollectorContext


def _local_disk_usage(ctx: CollectorContext) -> str:
    return subprocess.run(["df", "-h"], capture_output=True, text=True, timeout=5).stdout


def _lab_hosts(ctx: CollectorContext) -> List[dict]:
    return (ctx.state.get("lab") or {}).get("hosts") or []


def _node_disk_usage(ctx: CollectorContext) -> str:
    from gauntlet.adapters import ssh

    settings = ctx.target.section("ssh")
    out = []
    for host in _lab_hosts(ctx):
        address = host.get("public_ip") or host.get("private_ip")
        try:
            result = ssh.run(address, "df -h", settings["user"], settings["key_file"], timeout=3)
            out.append(f"## {host['name']} ({address}) exit {result.exit_code}\n{result.stdout}")
        except Exception as error:  # noqa: BLE001 - one unreachable node must not hide others
            out.append(f"## {host['name']} ({address}) unreachable: {error}")
    return "\n".join(out) or "(no lab hosts recorded for this run)"


def _kubernetes(ctx: CollectorContext):
    from gauntlet.adapters.k8s import Kubernetes

    return Kubernetes(ctx.target.section("k8s")["kubeconfig"], request_timeout=3)


def _pods_not_running(ctx: CollectorContext) -> str:
    pods = _kubernetes(ctx).pods_not_running()
    return "\n".join(f"{p['namespace']}/{p['name']}: {p['phase']} {p['reasons']}" for p in pods) \
        or "(every pod is Running or Succeeded)"


def _events(ctx: CollectorContext) -> str:
    return "\n".join(_kubernetes(ctx).events()) or "(no events)"


def _crash_loop_logs(ctx: CollectorContext) -> str:
    logs = _kubernetes(ctx).crash_loop_logs()
    return "\n".join(f"## {name}\n{text}" for name, text in logs.items()) \
        or "(no crash-looping containers)"


def _run_filter(ctx: CollectorContext) -> list:
    return [{"Name": "tag:gauntlet:run-id", "Values": [ctx.run_id]}]


def _aws_instances(ctx: CollectorContext) -> str:
    import boto3

    ec2 = boto3.client("ec2", region_name=ctx.target.region)
    reservations = ec2.describe_instances(Filters=_run_filter(ctx))["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    if not instances:
        return f"(no instances tagged gauntlet:run-id={ctx.run_id})"
    lines = ["## describe-instances"]
    for instance in instances:
        name = next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), "")
        lines.append(f"{instance['InstanceId']} {name} {instance['State']['Name']} "
                     f"{instance.get('PrivateIpAddress', '-')} {instance.get('PublicIpAddress', '-')}")
    ids = [i["InstanceId"] for i in instances]
    lines.append("## describe-instance-status")
    for status in ec2.describe_instance_status(InstanceIds=ids, IncludeAllInstances=True)[
            "InstanceStatuses"]:
        lines.append(f"{status['InstanceId']} state={status['InstanceState']['Name']} "
                     f"system={status.get('SystemStatus', {}).get('Status', '-')} "
                     f"instance={status.get('InstanceStatus', {}).get('Status', '-')}")
    lines.append("## get-console-output (tail)")
    for instance_id in ids[:6]:
        output = ec2.get_console_output(InstanceId=instance_id).get("Output", "") or ""
        lines.append(f"# {instance_id}\n" + "\n".join(output.splitlines()[-5:]))
    return "\n".join(lines)


def _aws_commands(ctx: CollectorContext) -> List[str]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    common = f"--region {ctx.target.region}" + (f" --endpoint-url {endpoint}" if endpoint else "")
    tag = f"Name=tag:gauntlet:run-id,Values={ctx.run_id}"
    ids = " ".join(h["instance_id"] for h in _lab_hosts(ctx) if h.get("instance_id")) or "<ids>"
    commands = [
        f"aws ec2 describe-instances {common} --filters {tag}",
        f"aws ec2 describe-instance-status {common} --include-all-instances --instance-ids {ids}",
    ]
    commands += [f"aws ec2 get-console-output {common} --output text --instance-id {i}"
                 for i in ids.split()[:6]]
    return commands


def _k8s_commands(ctx: CollectorContext) -> List[str]:
    kubeconfig = ctx.target.section("k8s").get("kubeconfig", "~/.kube/config")
    return [f"kubectl --kubeconfig {kubeconfig} get pods -A --field-selector=status.phase!=Running",
            f"kubectl --kubeconfig {kubeconfig} get events -A --sort-by=.lastTimestamp"]


def _can(capability: str):
    return lambda ctx: ctx.target.can(capability)


COLLECTORS: List[Collector] = [
    Collector("disk usage (this machine)", lambda ctx: True, _local_disk_usage,
              lambda ctx: ["df -h"]),
    Collector("disk usage (lab nodes)", _can("ssh"), _node_disk_usage),
    Collector("kubernetes pods not running", _can("k8s"), _pods_not_running, _k8s_commands),
    Collector("kubernetes events", _can("k8s"), _events),
    Collector("crash-looping pod logs", _can("k8s"), _crash_loop_logs),
    Collector("aws instances of this run", _can("aws"), _aws_instances, _aws_commands),
]
