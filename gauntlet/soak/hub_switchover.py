"""The real switchover: an ACM hub's role moves from the primary hub to the secondary, through
the kubernetes client (two contexts of one kubeconfig). Needs a target with ``[k8s]``.

==============================  =================================================================
preflight                       both hubs answer; the primary's BackupSchedule is enabled; Velero
                                is available on both; ManagedClusters counted on the primary
primary_preparation             pause the primary's BackupSchedule; disable auto-import of its
                                ManagedClusters (so they do not re-attach to the old hub)
activation                      create the activation Restore on the secondary (``latest``
                                backups; ``passive``: managed-cluster activation data only,
                                ``full``: everything) and wait until it is Finished
post_activation_verification    every ManagedCluster Available on the secondary; observability
                                (MultiClusterObservability Ready, observatorium-api pod Running)
finalization                    a BackupSchedule enabled on the secondary (the new primary); the
                                old hub per ``old_hub_action``: ``secondary`` keeps its schedule
                                paused, ``decommission`` deletes it, ``none`` leaves it
==============================  =================================================================

Recovery after a failed cycle rolls back (unpause the primary's schedule, re-enable auto-import,
delete an unfinished activation Restore) and verifies the primary's ManagedClusters are Available.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from gauntlet.clock import WaitTimeout, real_clock, wait_until
from gauntlet.soak.monitor import Observation, Problem
from gauntlet.soak.phases import CycleContext, PhaseFailed, Switchover

ACM_GROUP, ACM_VERSION = "cluster.open-cluster-management.io", "v1beta1"
BACKUP_NS = "open-cluster-management-backup"
OBSERVABILITY_NS = "open-cluster-management-observability"
OBSERVATORIUM_LABEL = "app.kubernetes.io/name=observatorium-api"
MCO = ("observability.open-cluster-management.io", "v1beta2", "multiclusterobservabilities")
MANAGED = ("cluster.open-cluster-management.io", "v1", "managedclusters")
DISABLE_AUTO_IMPORT = "import.open-cluster-management.io/disable-auto-import"
LOCAL_CLUSTER = "local-cluster"
RESTORE_DONE = ("Finished",)
RESTORE_FAILED = ("FinishedWithErrors", "Error", "Failed")


class Hub:
    """One hub (one kube context): the API groups the switchover uses."""

    def __init__(self, kubeconfig: str, context: str, request_timeout: float = 10.0) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(str(Path(kubeconfig).expanduser()), context=context)
        self.context = context
        self.timeout = request_timeout
        self.version = client.VersionApi(api)
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    # -- ACM backup ---------------------------------------------------------------------------

    def backup_schedules(self) -> List[dict]:
        return self.custom.list_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "backupschedules", _request_timeout=self.timeout)["items"]

    def patch_backup_schedule(self, name: str, spec: dict) -> dict:
        return self.custom.patch_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "backupschedules", name, {"spec": spec},
            _request_timeout=self.timeout)

    def create_backup_schedule(self, body: dict) -> dict:
        return self.custom.create_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "backupschedules", body, _request_timeout=self.timeout)

    def delete_backup_schedule(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "backupschedules", name, _request_timeout=self.timeout)

    def restores(self) -> List[dict]:
        return self.custom.list_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "restores", _request_timeout=self.timeout)["items"]

    def restore(self, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "restores", name, _request_timeout=self.timeout)

    def create_restore(self, body: dict) -> dict:
        return self.custom.create_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "restores", body, _request_timeout=self.timeout)

    def delete_restore(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(
            ACM_GROUP, ACM_VERSION, BACKUP_NS, "restores", name, _request_timeout=self.timeout)

    # -- clusters, observability, Velero --------------------------------------------------------

    def managed_clusters(self) -> List[dict]:
        return self.custom.list_cluster_custom_object(*MANAGED, _request_timeout=self.timeout)["items"]

    def annotate_managed_cluster(self, name: str, annotations: Dict[str, Optional[str]]) -> None:
        self.custom.patch_cluster_custom_object(*MANAGED, name, {"metadata": {"annotations": annotations}},
                                                _request_timeout=self.timeout)

    def observability(self) -> List[dict]:
        return self.custom.list_cluster_custom_object(*MCO, _request_timeout=self.timeout)["items"]

    def observatorium_pods(self) -> list:
        return self.core.list_namespaced_pod(OBSERVABILITY_NS, label_selector=OBSERVATORIUM_LABEL,
                                             _request_timeout=self.timeout).items

    def delete_pod(self, namespace: str, name: str) -> None:
        self.core.delete_namespaced_pod(name, namespace, _request_timeout=self.timeout)

    def velero(self):
        return self.apps.read_namespaced_deployment("velero", BACKUP_NS, _request_timeout=self.timeout)

    def scale_velero(self, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale("velero", BACKUP_NS, {"spec": {"replicas": replicas}},
                                                    _request_timeout=self.timeout)


def _condition(obj: dict, kind: str) -> Optional[str]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status")
    return None


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def available(clusters: List[dict]) -> List[str]:
    return sorted(_name(c) for c in clusters if _condition(c, "ManagedClusterConditionAvailable") == "True")


class HubSwitchover(Switchover):
    """The ACM hub switchover between two contexts of ``kubeconfig``."""

    name = "hub"

    def __init__(self, kubeconfig: str, method: str = "passive", old_hub_action: str = "secondary",
                 hubs: Optional[Dict[str, Hub]] = None) -> None:
        self.kubeconfig = kubeconfig
        self.method = method
        self.old_hub_action = old_hub_action
        self.hubs: Dict[str, Hub] = dict(hubs or {})

    def hub(self, context: str) -> Hub:
        if context not in self.hubs:
            self.hubs[context] = Hub(self.kubeconfig, context)
        return self.hubs[context]

    # -- roles and access -----------------------------------------------------------------------

    def pair(self, primary: Optional[str], secondary: Optional[str]) -> Tuple[str, str]:
        """Both contexts must be named; a client is created for each and access validated."""
        if not primary or not secondary:
            raise PhaseFailed("--primary-context and --secondary-context name the two hubs "
                              "(kube contexts) of a real switchover")
        self.validate_access(primary, secondary)
        return primary, secondary

    def validate_access(self, *contexts: str) -> Dict[str, str]:
        """``{context: server version}``; raises naming the context that cannot be reached."""
        versions = {}
        for context in contexts:
            try:
                versions[context] = self.hub(context).version.get_code(
                    _request_timeout=self.hub(context).timeout).git_version
            except Exception as error:  # noqa: BLE001 - one line naming the context
                raise PhaseFailed(f"context {context}: cannot reach the API server: {error}") from None
        return versions

    # -- phases -----------------------------------------------------------------------------------

    def preflight(self, ctx: CycleContext) -> None:
        versions = self.validate_access(ctx.primary, ctx.secondary)
        schedule = self._schedule(ctx.primary)
        if (schedule.get("status") or {}).get("phase") not in (None, "Enabled"):
            raise PhaseFailed(f"BackupSchedule {_name(schedule)} on {ctx.primary} is "
                              f"{schedule['status']['phase']}, not Enabled")
        for context in (ctx.primary, ctx.secondary):
            velero = self.hub(context).velero()
            if not (velero.status.available_replicas or 0):
                raise PhaseFailed(f"velero on {context} has no available replica")
        clusters = [c for c in self.hub(ctx.primary).managed_clusters() if _name(c) != LOCAL_CLUSTER]
        ctx.state.set(versions=versions, schedule=_name(schedule),
                      managed_clusters=sorted(_name(c) for c in clusters))
        ctx.log(f"preflight: {len(clusters)} managed clusters on {ctx.primary}; velero ready on both")

    def primary_preparation(self, ctx: CycleContext) -> None:
        self.set_backup_paused(ctx.primary, True)
        for name in ctx.state["managed_clusters"]:
            self.hub(ctx.primary).annotate_managed_cluster(name, {DISABLE_AUTO_IMPORT: ""})
        ctx.log(f"primary preparation: backups paused, auto-import disabled on {ctx.primary}")

    def activation(self, ctx: CycleContext) -> None:
        name = f"restore-acm-activate-{ctx.cycle_id}"[:63].lower()
        skip = "skip" if self.method == "passive" else "latest"
        self.hub(ctx.secondary).create_restore({
            "apiVersion": f"{ACM_GROUP}/{ACM_VERSION}", "kind": "Restore",
            "metadata": {"name": name, "namespace": BACKUP_NS},
            "spec": {"cleanupBeforeRestore": "CleanupRestored",
                     "veleroManagedClustersBackupName": "latest",
                     "veleroCredentialsBackupName": skip, "veleroResourcesBackupName": skip}})
        ctx.state.set(restore=name)

        def finished():
            phase = (self.hub(ctx.secondary).restore(name).get("status") or {}).get("phase")
            if phase in RESTORE_FAILED:
                raise PhaseFailed(f"Restore {name} on {ctx.secondary} ended {phase}")
            return phase in RESTORE_DONE

        self._wait(ctx, finished, f"Restore {name} on {ctx.secondary} to finish", fatal=(PhaseFailed,))
        ctx.state.set(activated=True)
        ctx.log(f"activation: Restore {name} finished on {ctx.secondary}")

    def post_activation_verification(self, ctx: CycleContext) -> None:
        expected = set(ctx.state["managed_clusters"])
        self._wait(ctx, lambda: expected <= set(available(self.hub(ctx.secondary).managed_clusters())),
                   f"{len(expected)} managed clusters Available on {ctx.secondary}")
        self._wait(ctx, lambda: self._observability_ready(ctx.secondary),
                   f"observability Ready on {ctx.secondary}")
        ctx.log(f"post-activation verification: {len(expected)} clusters Available, observability Ready")

    def finalization(self, ctx: CycleContext) -> None:
        old = self._schedule(ctx.primary)
        new = self._schedules(ctx.secondary)
        if new:
            self.set_backup_paused(ctx.secondary, False)
        else:
            self.hub(ctx.secondary).create_backup_schedule({
                "apiVersion": f"{ACM_GROUP}/{ACM_VERSION}", "kind": "BackupSchedule",
                "metadata": {"name": _name(old), "namespace": BACKUP_NS},
                "spec": {key: value for key, value in old["spec"].items() if key != "paused"}})
        if self.old_hub_action == "decommission":
            self.hub(ctx.primary).delete_backup_schedule(_name(old))
        self._wait(ctx, lambda: (self._schedule(ctx.secondary).get("status") or {}).get("phase")
                   in (None, "Enabled"), f"BackupSchedule enabled on {ctx.secondary}")
        ctx.state.set(next_primary=ctx.secondary, next_secondary=ctx.primary)
        ctx.log(f"finalization: {ctx.secondary} backs up; {ctx.primary} is now {self.old_hub_action}")

    # -- recovery ---------------------------------------------------------------------------------

    def recover(self, ctx: CycleContext, passed: bool) -> dict:
        actions, checks = [], []
        active = ctx.secondary if passed else ctx.primary
        if not passed:
            restore = ctx.state.get("restore")
            if restore and not ctx.state.get("activated"):
                self.hub(ctx.secondary).delete_restore(restore)
                actions.append(f"deleted Restore {restore} on {ctx.secondary}")
            self.set_backup_paused(ctx.primary, False)
            for name in ctx.state.get("managed_clusters") or []:
                self.hub(ctx.primary).annotate_managed_cluster(name, {DISABLE_AUTO_IMPORT: None})
            actions.append(f"rolled back: {ctx.primary} backs up and imports again")
        self._wait(ctx, lambda: self.hub(active).velero().status.available_replicas,
                   f"velero available on {active}")
        checks.append(f"velero available on {active}")
        expected = set(ctx.state.get("managed_clusters") or [])
        self._wait(ctx, lambda: expected <= set(available(self.hub(active).managed_clusters())),
                   f"managed clusters Available on {active}")
        checks.append(f"{len(expected)} managed clusters Available on {active}")
        if self._schedule(active).get("spec", {}).get("paused"):
            raise PhaseFailed(f"BackupSchedule on {active} is still paused")
        checks.append(f"BackupSchedule on {active} not paused")
        self._wait(ctx, lambda: self._observability_ready(active), f"observability Ready on {active}")
        checks.append(f"observability Ready on {active}")
        return {"action": "; ".join(actions) or "none", "leader": active, "checks": checks}

    # -- fault actions (used by gauntlet.soak.injection) ----------------------------------------

    def set_backup_paused(self, context: str, paused: bool) -> str:
        name = _name(self._schedule(context))
        self.hub(context).patch_backup_schedule(name, {"paused": paused})
        return name

    def scale_velero(self, context: str, replicas: int) -> int:
        """Scale Velero; returns the replica count it had."""
        before = self.hub(context).velero().spec.replicas or 0
        self.hub(context).scale_velero(replicas)
        return before

    def delete_observability_pod(self, context: str) -> str:
        pods = self.hub(context).observatorium_pods()
        if not pods:
            raise PhaseFailed(f"no observatorium-api pod on {context}")
        self.hub(context).delete_pod(OBSERVABILITY_NS, pods[0].metadata.name)
        return pods[0].metadata.name

    def wait_observability_pod(self, context: str, timeout: float) -> str:
        wait_until(lambda: any(p.status.phase == "Running" and not p.metadata.deletion_timestamp
                               for p in self.hub(context).observatorium_pods()),
                   timeout, interval=1.0, description=f"an observatorium-api pod Running on {context}",
                   clock=real_clock)
        return f"observatorium-api Running again on {context}"

    # -- monitoring -------------------------------------------------------------------------------

    def observe(self) -> Observation:
        values, problems = {}, []
        for context, hub in self.hubs.items():
            clusters = [c for c in hub.managed_clusters() if _name(c) != LOCAL_CLUSTER]
            up = available(clusters)
            restores = sorted(hub.restores(), key=lambda r: r["metadata"].get("creationTimestamp") or "")
            restore_phase = (restores[-1].get("status") or {}).get("phase") if restores else None
            schedules = self._schedules(context)
            schedule_phase = (schedules[0].get("status") or {}).get("phase") if schedules else None
            ready = self._observability_ready(context)
            values[context] = {"managedclusters": {"available": len(up), "total": len(clusters)},
                               "restore": restore_phase, "backupschedule": schedule_phase,
                               "observability_ready": ready}
            if schedule_phase in ("BackupCollision", "FailedValidation"):
                problems.append(Problem(f"backup:{context}", "critical",
                                        f"BackupSchedule on {context} is {schedule_phase}"))
            if restore_phase in RESTORE_FAILED:
                problems.append(Problem(f"restore:{context}", "critical",
                                        f"latest Restore on {context} ended {restore_phase}"))
        return Observation({"hubs": values}, problems)

    def snapshot(self) -> dict:
        return {"backend": self.name, "method": self.method, "old_hub_action": self.old_hub_action,
                "hubs": self.observe().values["hubs"]}

    # -- helpers ----------------------------------------------------------------------------------

    def _schedules(self, context: str) -> List[dict]:
        return self.hub(context).backup_schedules()

    def _schedule(self, context: str) -> dict:
        schedules = self._schedules(context)
        if not schedules:
            raise PhaseFailed(f"no BackupSchedule in {BACKUP_NS} on {context}")
        return schedules[0]

    def _observability_ready(self, context: str) -> bool:
        hub = self.hub(context)
        mco = hub.observability()
        return bool(mco) and all(_condition(m, "Ready") == "True" for m in mco) and \
            any(p.status.phase == "Running" for p in hub.observatorium_pods())

    def _wait(self, ctx: CycleContext, condition, description: str, fatal=()):
        try:
            return wait_until(condition, ctx.timeout, interval=1.0, description=description,
                              clock=real_clock, fatal=fatal).value
        except WaitTimeout as error:
            raise PhaseFailed(str(error)) from None
