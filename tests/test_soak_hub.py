"""The hub switchover (gauntlet.soak.hub_switchover) through the real `kubernetes` client,
against two small fake ACM hubs on 127.0.0.1 (no kube-apiserver can run here).

The fakes serve the documented paths the switchover uses (BackupSchedule, Restore, ManagedCluster,
MultiClusterObservability custom objects; the velero Deployment and its scale; observatorium-api
pods) and play the operators' part: a Restore finishes once Velero has a replica, the hub that
finished the latest activation Restore owns the managed clusters (they are Available there), a
deleted observatorium-api pod is replaced, Pending first.
"""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from gauntlet.local.serving import BackgroundServer
from gauntlet.soak.config import RunConfig
from gauntlet.soak.hub_switchover import DISABLE_AUTO_IMPORT, HubSwitchover
from gauntlet.soak.metrics import read_records
from gauntlet.soak.orchestrator import Orchestrator

CLUSTERS = ("managed-1", "managed-2")
ACM = "/apis/cluster.open-cluster-management.io"
BACKUP = f"{ACM}/v1beta1/namespaces/open-cluster-management-backup"


class World:
    """Both hubs' state; ``owner`` is the hub the managed clusters report to."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner = "hub-a"
        self.hubs = {name: Hub(name) for name in ("hub-a", "hub-b")}
        self.requests: list = []


class Hub:
    def __init__(self, name: str) -> None:
        self.name = name
        self.schedules = {"schedule-acm": {"apiVersion": "cluster.open-cluster-management.io/v1beta1",
                                           "kind": "BackupSchedule",
                                           "metadata": {"name": "schedule-acm"},
                                           "spec": {"veleroSchedule": "0 */1 * * *", "veleroTtl": "120h",
                                                    "paused": name != "hub-a"}}}
        self.restores: dict = {}
        self.annotations = {cluster: {} for cluster in CLUSTERS}
        self.velero_replicas = 1
        self.pod = {"name": "observability-observatorium-api-0", "phase": "Running"}
        self.pods_made = 0


def deployment(replicas: int) -> dict:
    return {"kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "velero", "namespace": "open-cluster-management-backup"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "velero"}},
                     "template": {"metadata": {"labels": {"app": "velero"}},
                                  "spec": {"containers": [{"name": "velero", "image": "velero:1"}]}}},
            "status": {"replicas": replicas, "availableReplicas": replicas}}


def handler_for(world: World, hub_name: str):
    class FakeHub(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def do_GET(self):  # noqa: N802
            self.route("GET")

        def do_POST(self):  # noqa: N802
            self.route("POST")

        def do_PATCH(self):  # noqa: N802
            self.route("PATCH")

        def do_DELETE(self):  # noqa: N802
            self.route("DELETE")

        def route(self, method):
            url = urlparse(self.path)
            path, query = url.path.rstrip("/"), parse_qs(url.query)
            with world.lock:
                world.requests.append((hub_name, method, path))
                hub = world.hubs[hub_name]
                code, body = answer(world, hub, method, path, query,
                                    self.body() if method in ("POST", "PATCH") else None,
                                    self.headers.get("Content-Type", ""))
            self.reply(code, body)

    return FakeHub


def schedule_view(obj: dict) -> dict:
    return dict(obj, status={"phase": "Paused" if obj["spec"].get("paused") else "Enabled"})


def restore_view(world: World, hub: Hub, obj: dict) -> dict:
    if hub.velero_replicas and obj.get("status", {}).get("phase") != "Finished":
        obj["status"] = {"phase": "Finished"}
        world.owner = hub.name  # the activation data is restored: the clusters report here now
    return obj


def answer(world, hub, method, path, query, body, content_type):
    if path == "/version":
        return 200, {"major": "1", "minor": "31", "gitVersion": f"v1.31.0+{hub.name}", "gitCommit": "0",
                     "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22",
                     "compiler": "gc", "platform": "linux/amd64"}
    if path == f"{BACKUP}/backupschedules":
        if method == "POST":
            hub.schedules[body["metadata"]["name"]] = body
            return 201, schedule_view(body)
        return 200, {"items": [schedule_view(s) for s in hub.schedules.values()], "metadata": {}}
    match = re.fullmatch(f"{BACKUP}/backupschedules/([^/]+)", path)
    if match:
        obj = hub.schedules[match.group(1)]
        if method == "PATCH":
            assert "merge-patch" in content_type, content_type
            obj["spec"].update(body["spec"])
        elif method == "DELETE":
            hub.schedules.pop(match.group(1))
        return 200, schedule_view(obj)
    if path == f"{BACKUP}/restores":
        if method == "POST":
            hub.restores[body["metadata"]["name"]] = dict(body, status={"phase": "Started"})
            return 201, body
        return 200, {"items": list(hub.restores.values()), "metadata": {}}
    match = re.fullmatch(f"{BACKUP}/restores/([^/]+)", path)
    if match:
        if method == "DELETE":
            return 200, hub.restores.pop(match.group(1))
        return 200, restore_view(world, hub, hub.restores[match.group(1)])
    if path == f"{ACM}/v1/managedclusters":
        items = [{"metadata": {"name": name, "annotations": hub.annotations[name]},
                  "status": {"conditions": [{"type": "ManagedClusterConditionAvailable",
                                             "status": "True" if world.owner == hub.name else "Unknown"}]}}
                 for name in CLUSTERS]
        return 200, {"items": items, "metadata": {}}
    match = re.fullmatch(f"{ACM}/v1/managedclusters/([^/]+)", path)
    if match and method == "PATCH":
        for key, value in body["metadata"]["annotations"].items():
            if value is None:
                hub.annotations[match.group(1)].pop(key, None)
            else:
                hub.annotations[match.group(1)][key] = value
        return 200, {"metadata": {"name": match.group(1)}}
    if path == "/apis/observability.open-cluster-management.io/v1beta2/multiclusterobservabilities":
        return 200, {"items": [{"metadata": {"name": "observability"},
                                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}
    if path == "/apis/apps/v1/namespaces/open-cluster-management-backup/deployments/velero":
        return 200, deployment(hub.velero_replicas)
    if path == "/apis/apps/v1/namespaces/open-cluster-management-backup/deployments/velero/scale":
        hub.velero_replicas = body["spec"]["replicas"]
        return 200, {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "velero"},
                     "spec": {"replicas": hub.velero_replicas}, "status": {"replicas": hub.velero_replicas}}
    if path == "/api/v1/namespaces/open-cluster-management-observability/pods":
        assert query.get("labelSelector") == ["app.kubernetes.io/name=observatorium-api"]
        pod = dict(hub.pod)
        if hub.pod["phase"] == "Pending":
            hub.pod["phase"] = "Running"  # the operator's replacement comes up
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
            {"metadata": {"name": pod["name"], "namespace": "open-cluster-management-observability"},
             "status": {"phase": pod["phase"]}}]}
    match = re.fullmatch("/api/v1/namespaces/open-cluster-management-observability/pods/([^/]+)", path)
    if match and method == "DELETE":
        deleted = {"kind": "Pod", "apiVersion": "v1", "status": {"phase": hub.pod["phase"]},
                   "metadata": {"name": match.group(1), "namespace": "open-cluster-management-observability",
                                "deletionTimestamp": "2026-01-01T00:00:00Z"}}
        hub.pods_made += 1
        hub.pod = {"name": f"observability-observatorium-api-{hub.pods_made}", "phase": "Pending"}
        return 200, deleted
    return 404, {"kind": "Status", "code": 404, "message": f"{method} {path}"}


@pytest.fixture
def hubs(tmp_path):
    world = World()
    servers = {name: BackgroundServer(ThreadingHTTPServer(("127.0.0.1", 0), handler_for(world, name)),
                                      f"fake-{name}") for name in world.hubs}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters:\n" + "".join(
        f"- name: {name}\n  cluster: {{server: \"http://127.0.0.1:{server.port}\"}}\n"
        for name, server in servers.items()) + "users:\n- name: admin\n  user: {token: fake-token}\n"
        "contexts:\n" + "".join(f"- name: {name}\n  context: {{cluster: {name}, user: admin}}\n"
                                 for name in servers) + "current-context: hub-a\n")
    yield world, str(kubeconfig)
    for server in servers.values():
        server.stop()


def soak(kubeconfig, tmp_path, **config):
    options = dict(cycles=2, cooldown_seconds=0, phase_timeout=5.0, target="hubs", monitor_interval=0.2,
                   primary_context="hub-a", secondary_context="hub-b", delay_seconds=1.0)
    options.update(config)
    run_dir = tmp_path / "run"
    summary = Orchestrator(RunConfig(**options), HubSwitchover(kubeconfig), run_dir, "soak-hub-1",
                           out=open(os.devnull, "w")).run()
    return summary, run_dir


def test_hub_switchover_cycles_move_the_managed_clusters_and_swap_the_hubs(hubs, tmp_path):
    world, kubeconfig = hubs
    summary, run_dir = soak(kubeconfig, tmp_path)
    cycles = read_records(run_dir / "metrics.jsonl", "cycle")
    assert [c["status"] for c in cycles] == ["passed", "passed"], [c["error"] for c in cycles]
    assert [(c["primary"], c["secondary"]) for c in cycles] == [("hub-a", "hub-b"), ("hub-b", "hub-a")]
    assert world.owner == "hub-a"  # switched over and back
    a, b = world.hubs["hub-a"], world.hubs["hub-b"]
    assert not a.schedules["schedule-acm"]["spec"]["paused"] and b.schedules["schedule-acm"]["spec"]["paused"]
    assert all(DISABLE_AUTO_IMPORT in b.annotations[c] for c in CLUSTERS)
    assert any(name.startswith("restore-acm-activate-soak-hub-1-c001") for name in b.restores)
    samples = read_records(run_dir / "metrics.jsonl", "sample")
    assert samples and samples[-1]["hubs"]["hub-a"]["managedclusters"] == {"available": 2, "total": 2}


def test_an_unreachable_context_fails_before_any_cycle(hubs, tmp_path):
    _, kubeconfig = hubs
    switchover = HubSwitchover(kubeconfig)
    with pytest.raises(Exception, match="context hub-c"):
        switchover.pair("hub-a", "hub-c")


@pytest.mark.parametrize("scenario, phase, passes", [
    ("pause-backup", "preflight", False),         # preflight sees the paused schedule and refuses
    ("delay-restore", "activation", True),        # velero back after 1 s: the restore finishes late
    ("kill-observability-pod", "post_activation_verification", True),  # replaced: Ready again
    ("pause-backup", "primary_preparation", True),
])
def test_hub_faults_are_cleared_and_recovery_verified(hubs, tmp_path, scenario, phase, passes):
    world, kubeconfig = hubs
    summary, run_dir = soak(kubeconfig, tmp_path, cycles=1, inject_failure=scenario, inject_at_phase=phase)
    record = read_records(run_dir / "metrics.jsonl", "cycle")[0]
    assert record["injected"] == scenario
    assert (record["status"] == "passed") is passes, record["error"]
    assert record["recovery"]["status"] == "verified", record["recovery"]
    active = world.hubs[record["secondary"] if passes else record["primary"]]
    assert world.owner == active.name and world.hubs["hub-b"].velero_replicas == 1
    assert not active.schedules["schedule-acm"]["spec"]["paused"]


def test_a_failed_activation_is_rolled_back_to_the_primary(hubs, tmp_path):
    world, kubeconfig = hubs
    summary, run_dir = soak(kubeconfig, tmp_path, cycles=1, inject_failure="delay-restore",
                            delay_seconds=30.0, phase_timeout=2.0)
    record = read_records(run_dir / "metrics.jsonl", "cycle")[0]
    assert record["status"] == "failed" and record["error"].startswith("activation:")
    assert record["recovery"]["status"] == "verified" and record["recovery"]["rollback"] is True
    a = world.hubs["hub-a"]
    assert world.owner == "hub-a" and not a.schedules["schedule-acm"]["spec"]["paused"]
    assert all(DISABLE_AUTO_IMPORT not in a.annotations[c] for c in CLUSTERS)
    assert not world.hubs["hub-b"].restores  # the unfinished activation Restore is gone
