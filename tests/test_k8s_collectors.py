"""The Kubernetes diagnostics collectors, through the real `kubernetes` client, against a small
fake API server on 127.0.0.1 (no kube-apiserver can run here) that serves the documented
CoreV1 list/log endpoints with a bearer token."""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gauntlet.harness.collectors import COLLECTORS
from gauntlet.harness.diagnostics import CollectorContext, Failure, collect_bundle
from gauntlet.harness.redaction import redactor
from gauntlet.local.serving import BackgroundServer
from gauntlet.targets import Target

TOKEN = "k8s-bearer-token-0123456789abcdef"


def pod(name, phase, waiting=None):
    status = {"name": "app", "ready": False, "restartCount": 4, "image": "app:1", "imageID": "",
              "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}
    return {"metadata": {"name": name, "namespace": "shop"},
            "status": {"phase": phase, "containerStatuses": [status]}}


PODS = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
    pod("web-1", "Running"),
    pod("db-0", "Pending"),
    pod("api-7", "Running", waiting="CrashLoopBackOff"),
]}
EVENTS = {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": [
    {"metadata": {"name": "e1", "namespace": "shop"}, "type": "Warning", "reason": "BackOff",
     "message": "Back-off restarting failed container", "lastTimestamp": "2026-11-21T06:00:00Z",
     "involvedObject": {"kind": "Pod", "name": "api-7"}},
]}


class FakeApi(BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 - http.server naming
        FakeApi.requests.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(401, {"kind": "Status", "code": 401})
        path = self.path.split("?")[0]
        if path == "/api/v1/pods":
            return self.reply(200, PODS)
        if path == "/api/v1/events":
            return self.reply(200, EVENTS)
        if path == "/api/v1/namespaces/shop/pods/api-7/log":
            assert "previous=true" in self.path
            body = b"panic: cannot connect to db-0\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        return self.reply(404, {"kind": "Status", "code": 404})

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def kube_target(tmp_path):
    serving = BackgroundServer(ThreadingHTTPServer(("127.0.0.1", 0), FakeApi), "fake-kube-api")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {{server: "http://127.0.0.1:{serving.port}"}}
users:
- name: lab
  user: {{token: {TOKEN}}}
contexts:
- name: lab
  context: {{cluster: lab, user: lab}}
current-context: lab
""")
    redactor.register(TOKEN)
    yield Target("k8s", tmp_path / "k8s.toml", "fake", ["k8s"], {"k8s": {"kubeconfig": str(kubeconfig)}})
    serving.stop()


def test_k8s_collectors_report_pods_events_and_crash_loop_logs(kube_target):
    failure = Failure(step=4, name="K3s ready", location="x.feature:1", error="boom")
    context = CollectorContext("run-1", kube_target, {}, "K3s ready")
    bundle = collect_bundle(failure, context, COLLECTORS, timeout=10)
    results = bundle["collectors"]
    assert results["kubernetes pods not running"]["status"] == "ok"
    not_running = results["kubernetes pods not running"]["output"]
    assert "shop/db-0: Pending" in not_running and "CrashLoopBackOff" in not_running
    assert "web-1" not in not_running
    assert "Back-off restarting failed container" in results["kubernetes events"]["output"]
    assert "panic: cannot connect to db-0" in results["crash-looping pod logs"]["output"]
    assert any(c.startswith("kubectl --kubeconfig") for c in bundle["commands"])
    assert "aws instances of this run" not in results  # the target has no aws capability
    assert TOKEN not in json.dumps(bundle)


def test_unreachable_k8s_is_recorded_not_raised(kube_target, tmp_path):
    kubeconfig = Path(kube_target.section("k8s")["kubeconfig"])
    broken = tmp_path / "broken"
    broken.write_text(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:1", kubeconfig.read_text()))  # closed
    target = Target("k8s", tmp_path / "k8s.toml", "fake", ["k8s"], {"k8s": {"kubeconfig": str(broken)}})
    bundle = collect_bundle(Failure(1, "s", "x:1", "boom"), CollectorContext("r", target, {}, "s"),
                            COLLECTORS, timeout=10)
    assert bundle["error"] == "boom"  # the step's failure is never masked
    assert bundle["collectors"]["kubernetes events"]["status"] == "error"
