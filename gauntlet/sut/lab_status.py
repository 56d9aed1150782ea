"""The lab status server: the "MCP server status endpoint" of the lab requirement.

``GET /status`` answers with the cluster, its nodes, its networking and its S3 backup, read
live from AWS on every request through :class:`~gauntlet.adapters.lab.Boto3Lab` (attach
mode), so the endpoint shows what really exists, not what the run remembers. ``GET /health``
answers ``{"status": "ok"}``. It binds to loopback unless told otherwise.

Run it as ``python -m gauntlet.sut.lab_status --cluster NAME --cluster-id ID --run-id ID
--port 0 --port-file FILE``; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from gauntlet.adapters.lab import Boto3Lab, Host, Lab, LabError
from gauntlet.local.serving import BackgroundServer, write_port_file

log = logging.getLogger(__name__)


def cluster_state(hosts: list[Host]) -> str:
    """``absent`` (no nodes), ``running`` (all running), ``stopped`` (all stopped), else ``degraded``."""
    states = {host.state for host in hosts}
    if not states:
        return "absent"
    if len(states) == 1 and states <= {"running", "stopped"}:
        return states.pop()
    return "degraded"


def cluster_status(lab: Lab) -> dict:
    """The ``/status`` document, built from what AWS reports now."""
    try:
        cluster = lab.describe_cluster()
        hosts = cluster.instances
        networking = {"vpc_id": cluster.vpc_id, "subnets": cluster.subnet_ids,
                      "security_group": cluster.security_group_id,
                      "internet_gateway": cluster.internet_gateway_id, "tags": lab.vpc_tags()}
    except LabError:  # no VPC: the cluster is not (or no longer) there
        hosts = lab.hosts()
        networking = {"vpc_id": None, "subnets": [], "security_group": None,
                      "internet_gateway": None, "tags": {}}
    bucket, prefix = lab.backup_location()
    try:
        objects = lab.backup_listing()
    except LabError:  # no backup bucket yet
        objects = []
    return {
        "cluster": {"name": lab.cluster_name, "id": lab.cluster_id, "state": cluster_state(hosts)},
        "nodes": [asdict(host) for host in hosts],
        "networking": networking,
        "s3": {"bucket": bucket, "prefix": prefix, "objects": objects},
    }


def check_bind_host(host: str, allow_remote: bool = False) -> None:
    """Refuse to listen beyond loopback unless ``allow_remote``: the status shows the lab's layout."""
    if allow_remote or host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if not (address and address.version == 4 and address.is_loopback):
        raise ValueError(f"refusing to bind the lab status server to {host!r}: IPv4 loopback only "
                         f"(127.0.0.0/8, localhost) unless allow_remote=True / --allow-remote")


class _Handler(BaseHTTPRequestHandler):
    server: "_StatusHTTPServer"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/status":
            try:
                self._send(200, cluster_status(self.server.lab))
            except Exception as error:  # noqa: BLE001 - report it to the client, keep serving
                log.exception("status failed")
                self._send(500, {"error": f"{type(error).__name__}: {error}"})
        else:
            self._send(404, {"error": f"no such path: {path}", "paths": ["/status", "/health"]})

    def _send(self, code: int, document: dict) -> None:
        body = json.dumps(document, indent=2, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.address_string(), format % args)


class _StatusHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    lab: Lab


class LabStatusServer:
    """The status server in a background thread: ``start()``, ``url``, ``stop()``."""

    def __init__(self, lab: Lab, host: str = "127.0.0.1", port: int = 0,
                 allow_remote: bool = False) -> None:
        check_bind_host(host, allow_remote)
        self.lab = lab
        self.host = host
        self.port = port
        self._serving: Optional[BackgroundServer] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "LabStatusServer":
        server = _StatusHTTPServer((self.host, self.port), _Handler)
        server.lab = self.lab
        self._serving = BackgroundServer(server, "lab-status")
        self.port = self._serving.port
        return self

    def stop(self) -> None:
        if self._serving:
            self._serving.stop()
        self._serving = None

    def __enter__(self) -> "LabStatusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()



def serve(cluster_name: str, cluster_id: str, run_id: str, region: Optional[str] = None,
          host: str = "127.0.0.1", port: int = 0, port_file: Optional[str] = None,
          allow_remote: bool = False) -> int:
    """Serve the status of an existing cluster until SIGTERM or SIGINT; returns 0."""
    check_bind_host(host, allow_remote)
    lab = Boto3Lab.attach(run_id, cluster_name, cluster_id, region)
    stopped = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stopped.set())
                for signum in (signal.SIGTERM, signal.SIGINT)}
    server = LabStatusServer(lab, host, port, allow_remote).start()
    try:
        if port_file:
            write_port_file(port_file, server.port)
        print(f"lab status server for {lab.label} on {server.url}/status", flush=True)
        stopped.wait()
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gauntlet.sut.lab_status",
                                     description="Serve a lab cluster's live status as JSON.")
    parser.add_argument("--cluster", required=True, help="cluster name")
    parser.add_argument("--cluster-id", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--region", help="default: the AWS environment's region")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (the status reveals the lab's layout)")
    args = parser.parse_args(argv)
    try:
        return serve(args.cluster, args.cluster_id, args.run_id, args.region, args.host, args.port,
                     args.port_file, args.allow_remote)
    except ValueError as error:
        print(f"lab_status: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
