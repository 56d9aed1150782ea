"""Kubernetes adapter (official ``kubernetes`` client): node readiness and failure diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List


class Kubernetes:
    def __init__(self, kubeconfig: str, context: str | None = None, request_timeout: float = 5.0):
        from kubernetes import client, config

        api_client = config.new_client_from_config(str(Path(kubeconfig).expanduser()),
                                                   context=context)
        self.core = client.CoreV1Api(api_client)
        self.timeout = request_timeout

    def nodes(self) -> List[Dict[str, str]]:
        """Each node with its Ready condition ("True", "False" or "Unknown")."""
        result = []
        for node in self.core.list_node(_request_timeout=self.timeout).items:
            ready = next((c.status for c in node.status.conditions or [] if c.type == "Ready"),
                         "Unknown")
            result.append({"name": node.metadata.name, "ready": ready})
        return result

    def pods_not_running(self) -> List[Dict[str, str]]:
        pods = self.core.list_pod_for_all_namespaces(_request_timeout=self.timeout).items
        return [{"namespace": p.metadata.namespace, "name": p.metadata.name,
                 "phase": p.status.phase, "reasons": ", ".join(_waiting_reasons(p))}
                for p in pods if p.status.phase not in ("Running", "Succeeded")
                or _waiting_reasons(p)]

    def events(self, limit: int = 50) -> List[str]:
        items = self.core.list_event_for_all_namespaces(_request_timeout=self.timeout).items
        items.sort(key=lambda e: str(e.last_timestamp or e.event_time or ""))
        return [f"{e.last_timestamp or e.event_time} {e.type} {e.involved_object.kind}/"
                f"{e.involved_object.name} ({e.metadata.namespace}) {e.reason}: {e.message}"
                for e in items[-limit:]]

    def crash_loop_logs(self, tail_lines: int = 40) -> Dict[str, str]:
        """Previous-container logs of every container in CrashLoopBackOff."""
        logs = {}
        pods = self.core.list_pod_for_all_namespaces(_request_timeout=self.timeout).items
        for pod in pods:
            for status in pod.status.container_statuses or []:
                waiting = status.state.waiting if status.state else None
                if waiting and waiting.reason == "CrashLoopBackOff":
                    key = f"{pod.metadata.namespace}/{pod.metadata.name}/{status.name}"
                    logs[key] = self.core.read_namespaced_pod_log(
                        pod.metadata.name, pod.metadata.namespace, container=status.name,
                        previous=True, tail_lines=tail_lines, _request_timeout=self.timeout)
        return logs


def _waiting_reasons(pod) -> List[str]:
    return [s.state.waiting.reason for s in pod.status.container_statuses or []
            if s.state and s.state.waiting and s.state.waiting.reason]
