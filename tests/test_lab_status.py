"""The lab status server, in a thread and as a process, against the offline endpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from gauntlet.adapters.lab import Boto3Lab, Host
from gauntlet.clock import RealClock, wait_until
from gauntlet.sut.lab_status import LabStatusServer, check_bind_host, cluster_state, main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lab(endpoint, tmp_path_factory):
    """A two-db cluster with its config backed up."""
    lab = Boto3Lab(f"status-{uuid.uuid4().hex[:8]}", "lab", work_dir=tmp_path_factory.mktemp("lab"),
                   poll_interval=0.01)
    lab.init_cluster(db_count=2)
    lab.backup_to_s3()
    yield lab
    lab.destroy()


@pytest.fixture(scope="module")
def server(lab):
    attached = Boto3Lab.attach(lab.run_id, lab.cluster_name, lab.cluster_id)
    with LabStatusServer(attached) as running:
        yield running


def test_status_reports_cluster_nodes_networking_and_backup(lab, server):
    response = requests.get(server.url + "/status", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    status = response.json()
    assert status["cluster"] == {"name": "lab", "id": lab.cluster_id, "state": "running"}
    assert [(n["name"], n["role"], n["state"]) for n in status["nodes"]] == [
        ("db0", "db", "running"), ("db1", "db", "running"),
        ("app0", "app", "running"), ("control0", "control", "running")]
    assert {h.instance_id for h in lab.hosts()} == {n["instance_id"] for n in status["nodes"]}
    assert all(n["private_ip"].startswith("10.0.1.") for n in status["nodes"])
    cluster = lab.describe_cluster()
    networking = status["networking"]
    assert networking["vpc_id"] == cluster.vpc_id and networking["subnets"] == cluster.subnet_ids
    assert networking["security_group"] == cluster.security_group_id
    assert networking["internet_gateway"] == cluster.internet_gateway_id
    assert networking["tags"]["ClusterId"] == lab.cluster_id
    assert networking["tags"]["gauntlet:run-id"] == lab.run_id
    bucket, prefix = lab.backup_location()
    assert status["s3"]["bucket"] == bucket and status["s3"]["prefix"] == prefix
    assert "kubeconfig" in status["s3"]["objects"]
    assert "cassandra-config/cassandra.yaml" in status["s3"]["objects"]


def test_status_is_read_live_on_every_request(lab, server):
    db1 = next(h for h in lab.hosts() if h.name == "db1")
    lab.ec2.stop_instances(InstanceIds=[db1.instance_id])
    try:
        status = requests.get(server.url + "/status", timeout=10).json()
        assert status["cluster"]["state"] == "degraded"
        assert {n["name"]: n["state"] for n in status["nodes"]}["db1"] == "stopped"
    finally:
        lab.ec2.start_instances(InstanceIds=[db1.instance_id])
    assert requests.get(server.url + "/status", timeout=10).json()["cluster"]["state"] == "running"


def test_health_and_unknown_paths(server):
    assert requests.get(server.url + "/health", timeout=5).json() == {"status": "ok"}
    missing = requests.get(server.url + "/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert "no such path" in missing.json()["error"]


def test_status_of_a_cluster_that_does_not_exist(lab):
    ghost = Boto3Lab.attach(lab.run_id, "ghost", "00000000")
    with LabStatusServer(ghost) as running:
        status = requests.get(running.url + "/status", timeout=10).json()
    assert status["cluster"]["state"] == "absent"
    assert status["nodes"] == [] and status["networking"]["vpc_id"] is None
    assert status["s3"]["prefix"] == "clusters/ghost-00000000/config/"
    assert status["s3"]["objects"] == []


def test_cluster_state_summarises_node_states():
    def hosts(*states):
        return [Host(f"db{i}", "db", f"i-{i}", None, None, state) for i, state in enumerate(states)]

    assert cluster_state([]) == "absent"
    assert cluster_state(hosts("running", "running")) == "running"
    assert cluster_state(hosts("stopped")) == "stopped"
    assert cluster_state(hosts("running", "pending")) == "degraded"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com", "::", "::1"])
def test_binding_beyond_loopback_is_refused(lab, host, capsys):
    with pytest.raises(ValueError, match="loopback only"):
        LabStatusServer(lab, host=host)
    assert main(["--cluster", "lab", "--cluster-id", lab.cluster_id, "--run-id", lab.run_id,
                 "--host", host]) == 2
    assert "refusing to bind" in capsys.readouterr().err


def test_loopback_binds_are_allowed_and_remote_ones_only_on_request():
    for host in ("127.0.0.1", "127.0.0.42", "localhost"):
        check_bind_host(host)
    check_bind_host("0.0.0.0", allow_remote=True)


def test_runs_as_a_process_with_a_port_file_and_stops_on_sigterm(lab, tmp_path):
    port_file = tmp_path / "port"
    log_path = tmp_path / "lab_status.log"
    clock = RealClock()
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gauntlet.sut.lab_status", "--cluster", lab.cluster_name,
             "--cluster-id", lab.cluster_id, "--run-id", lab.run_id, "--port", "0",
             "--port-file", str(port_file)],
            cwd=REPO, env=dict(os.environ), stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_until(port_file.exists, timeout=20, interval=0.05, description="port file", clock=clock)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        status = requests.get(url + "/status", timeout=10).json()
        assert status["cluster"]["id"] == lab.cluster_id
        assert [n["name"] for n in status["nodes"]] == ["db0", "db1", "app0", "control0"]
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: process.poll() is not None, timeout=10, interval=0.05,
                   description="lab status process exit", clock=clock)
        assert process.returncode == 0, log_path.read_text()
        assert "lab status server for" in log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
