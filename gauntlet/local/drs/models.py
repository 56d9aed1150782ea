"""DRS state per account and region: source servers, recovery snapshots, jobs, recovery instances.

Nothing runs in the background. When a job starts, its whole life is computed as a schedule of
timestamped transitions (PENDING -> STARTED -> per-server phases -> COMPLETED); every request
first applies the transitions that are due by the clock (:meth:`DrsBackend.advance`). With a
``VirtualClock`` minutes of recovery pass in one call; with the real clock they take minutes.

Recovery instances are real moto EC2 instances, launched and terminated through moto's EC2
backend of the same account and region, so ``ec2.describe_instances`` sees what DRS launched.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from .exceptions import ConflictException, ValidationException

FIXTURE_PATH = Path(__file__).resolve().parents[3] / "fixtures" / "drs" / "source_servers.json"
# A Windows Server AMI from moto's default set; recovered servers are Windows.
RECOVERY_IMAGE_ID = "ami-03cf127a"
MANAGED_TAG = {"AWSElasticDisasterRecoveryManaged": "drs.amazonaws.com"}

PENDING, STARTED, COMPLETED = "PENDING", "STARTED", "COMPLETED"


def iso(timestamp: float) -> str:
    """Epoch seconds as DRS writes them (botocore's ISO8601DatetimeString: UTC, ``Z``)."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def random_hex(length: int = 17) -> str:
    return secrets.token_hex((length + 1) // 2)[:length]


def partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region)


@dataclass
class Timing:
    """Simulated durations in seconds; each is drawn uniformly from its (low, high) range.

    ``pending``: a job's PENDING phase (also for TERMINATE jobs). ``launch``: one server's
    launch, from the job's STARTED to LAUNCHED/FAILED; servers of a job launch in parallel.
    ``terminate``: one recovery instance's termination in a TERMINATE job. ``seed`` makes the
    draws repeatable per account and region.
    """

    pending: tuple[float, float] = (20.0, 40.0)
    launch: tuple[float, float] = (120.0, 360.0)
    terminate: tuple[float, float] = (30.0, 90.0)
    seed: int = 0

    def update(self, **changes: Any) -> Timing:
        for name, value in changes.items():
            if name == "seed":
                self.seed = int(value)
            elif name in ("pending", "launch", "terminate"):
                low, high = (value, value) if isinstance(value, (int, float)) else value
                if not 0 <= float(low) <= float(high):
                    raise ValueError(f"timing {name} must be 0 <= low <= high, not {value!r}")
                setattr(self, name, (float(low), float(high)))
            else:
                raise ValueError(f"unknown timing parameter {name!r} (pending, launch, terminate, seed)")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class SourceServer:
    """A replicating server, built from one fixture entry for one account and region."""

    def __init__(self, spec: dict[str, Any], account_id: str, region: str, seeded_at: float) -> None:
        self.id = spec["sourceServerID"]
        self.spec = spec
        self.account_id = account_id
        self.region = region
        self.seeded_at = seeded_at
        self.arn = f"arn:{partition(region)}:drs:{region}:{account_id}:source-server/{self.id}"
        self.tags: dict[str, str] = dict(spec.get("tags", {}))
        self.replication_state = "CONTINUOUS"
        self.recovery_instance_id: str | None = None
        self.last_launch_result = "NOT_STARTED"
        self.last_launch: dict[str, Any] | None = None

    @property
    def hostname(self) -> str:
        return self.spec["hostname"]

    def matches_hardware_id(self, hardware_id: str) -> bool:
        macs = {nic.get("macAddress") for nic in self.spec.get("networkInterfaces", [])}
        return hardware_id == self.spec.get("vmWareUuid") or hardware_id in macs

    def properties(self) -> dict[str, Any]:
        """``sourceProperties``: what the replication agent reported about the machine."""
        spec = self.spec
        return {
            "lastUpdatedDateTime": iso(self.seeded_at - 300),
            "recommendedInstanceType": spec["recommendedInstanceType"],
            "identificationHints": {"hostname": spec["hostname"], "fqdn": spec["fqdn"],
                                    "vmWareUuid": spec["vmWareUuid"]},
            "networkInterfaces": copy.deepcopy(spec["networkInterfaces"]),
            "disks": copy.deepcopy(spec["disks"]),
            "cpus": copy.deepcopy(spec["cpus"]),
            "ramBytes": spec["ramBytes"],
            "os": {"fullString": spec["os"]},
            "supportsNitroInstances": True,
            "architecture": "x86_64",
        }

    def to_dict(self, now: float) -> dict[str, Any]:
        days = self.spec.get("replicatingForDays", 30)
        added = self.seeded_at - days * 86400
        disks = [{"deviceName": d["deviceName"], "totalStorageBytes": d["bytes"],
                  "replicatedStorageBytes": d["bytes"], "rescannedStorageBytes": 0,
                  "backloggedStorageBytes": 0, "volumeStatus": "REGULAR"}
                 for d in self.spec["disks"]]
        life_cycle: dict[str, Any] = {
            "addedToServiceDateTime": iso(added),
            "firstByteDateTime": iso(added + 120),
            "elapsedReplicationDuration": f"P{days}D",
            "lastSeenByServiceDateTime": iso(now - 10),
        }
        if self.last_launch:
            life_cycle["lastLaunch"] = copy.deepcopy(self.last_launch)
        item = {
            "sourceServerID": self.id,
            "arn": self.arn,
            "tags": dict(self.tags),
            "lastLaunchResult": self.last_launch_result,
            "dataReplicationInfo": {
                "lagDuration": "PT0S",
                "replicatedDisks": disks,
                "dataReplicationState": self.replication_state,
                "stagingAvailabilityZone": f"{self.region}a",
            },
            "lifeCycle": life_cycle,
            "sourceProperties": self.properties(),
            "stagingArea": {"status": "NOT_EXTENDED", "stagingAccountID": self.account_id},
            "replicationDirection": "FAILOVER",
            "agentVersion": self.spec.get("agentVersion", "4.6.313"),
        }
        if self.recovery_instance_id:
            item["recoveryInstanceId"] = self.recovery_instance_id
        return item


class Job:
    """A LAUNCH or TERMINATE job; its fields change only through the backend's schedule."""

    def __init__(self, account_id: str, region: str, job_type: str, initiated_by: str,
                 created: float, tags: dict[str, str] | None) -> None:
        self.id = "drsjob-" + random_hex(17)
        self.arn = f"arn:{partition(region)}:drs:{region}:{account_id}:job/{self.id}"
        self.type = job_type
        self.initiated_by = initiated_by
        self.created = created
        self.ended: float | None = None
        self.status = PENDING
        self.tags = dict(tags or {})
        self.servers: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []

    @property
    def active(self) -> bool:
        return self.status != COMPLETED

    def add_server(self, source_server_id: str, recovery_instance_id: str | None = None) -> None:
        entry = {"sourceServerID": source_server_id, "launchStatus": "PENDING"}
        if recovery_instance_id:
            entry["recoveryInstanceID"] = recovery_instance_id
        self.servers[source_server_id] = entry

    def add_log(self, at: float, event: str, **event_data: Any) -> None:
        item: dict[str, Any] = {"logDateTime": iso(at), "event": event}
        if event_data:
            item["eventData"] = event_data
        self.log.append(item)

    def to_dict(self) -> dict[str, Any]:
        item = {
            "jobID": self.id,
            "arn": self.arn,
            "type": self.type,
            "initiatedBy": self.initiated_by,
            "creationDateTime": iso(self.created),
            "status": self.status,
            "participatingServers": [dict(s) for s in self.servers.values()],
            "tags": dict(self.tags),
        }
        if self.ended is not None:
            item["endDateTime"] = iso(self.ended)
        return item


class RecoveryInstance:
    """A launched recovery: its id is the moto EC2 instance id, as in DRS."""

    def __init__(self, backend: DrsBackend, instance: Any, server: SourceServer, job: Job,
                 is_drill: bool, snapshot_time: float, launched: float) -> None:
        self.id = instance.id
        self.backend = backend
        self.source_server_id = server.id
        self.job_id = job.id
        self.is_drill = is_drill
        self.snapshot_time = snapshot_time
        self.launched = launched
        self.tags = dict(job.tags)
        self.arn = (f"arn:{partition(backend.region)}:drs:{backend.region}:{backend.account_id}"
                    f":recovery-instance/{self.id}")
        self.server = server

    def ec2_state(self) -> str:
        instance = self.backend.ec2_instance(self.id)
        return instance.state.upper() if instance else "NOT_FOUND"

    def to_dict(self) -> dict[str, Any]:
        instance = self.backend.ec2_instance(self.id)
        spec = self.server.spec
        interfaces = [{"macAddress": spec["networkInterfaces"][0]["macAddress"],
                       "ips": [instance.private_ip] if instance and instance.private_ip else [],
                       "isPrimary": True}]
        return {
            "ec2InstanceID": self.id,
            "ec2InstanceState": self.ec2_state(),
            "jobID": self.job_id,
            "recoveryInstanceID": self.id,
            "sourceServerID": self.source_server_id,
            "arn": self.arn,
            "tags": dict(self.tags),
            "failback": {"state": "FAILBACK_NOT_STARTED"},
            "recoveryInstanceProperties": {
                "lastUpdatedDateTime": iso(self.launched),
                "identificationHints": {"hostname": spec["hostname"], "fqdn": spec["fqdn"],
                                        "awsInstanceID": self.id},
                "networkInterfaces": interfaces,
                "disks": [{"internalDeviceName": d["deviceName"], "bytes": d["bytes"]}
                          for d in spec["disks"]],
                "cpus": copy.deepcopy(spec["cpus"]),
                "ramBytes": spec["ramBytes"],
                "os": {"fullString": spec["os"]},
            },
            "pointInTimeSnapshotDateTime": iso(self.snapshot_time),
            "isDrill": self.is_drill,
            "originEnvironment": "ON_PREMISES",
            "originAvailabilityZone": f"{self.backend.region}a",
        }


class DrsBackend:
    """One account and region: seeded from the fixture, advanced lazily from the clock."""

    def __init__(self, registry: DrsBackends, account_id: str, region: str) -> None:
        self.registry = registry
        self.account_id = account_id
        self.region = region
        self.rng = random.Random(f"{registry.timing.seed}:{account_id}:{region}")
        self._schedule: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self.source_servers: dict[str, SourceServer] = {}
        self.snapshots: dict[str, list[dict[str, Any]]] = {}
        self.jobs: dict[str, Job] = {}
        self.recovery_instances: dict[str, RecoveryInstance] = {}
        for spec in registry.fixture["sourceServers"]:
            self._add_source_server(spec)

    def _add_source_server(self, spec: dict[str, Any]) -> SourceServer:
        now = self.now()
        server = SourceServer(spec, self.account_id, self.region, now)
        self.source_servers[server.id] = server
        self.snapshots[server.id] = [
            self._snapshot(server, snap["snapshotID"], now - 60 * snap["ageMinutes"])
            for snap in spec.get("recoverySnapshots", [])
        ]
        return server

    def add_source_servers(self, count: int, tags: dict[str, str] | None = None) -> list[str]:
        """Add ``count`` more replicating servers (for scale scenarios), cloned from the fixture."""
        templates = self.registry.fixture["sourceServers"]
        added = []
        for _ in range(count):
            number = len(self.source_servers) + 1
            spec = copy.deepcopy(templates[(number - 1) % len(templates)])
            spec["sourceServerID"] = "s-" + random_hex(17)
            spec["hostname"] = f"extra-{number:03d}"
            spec["fqdn"] = f"extra-{number:03d}.corp.example.com"
            spec["tags"] = {**spec["tags"], "Name": spec["hostname"], **(tags or {})}
            spec["recoverySnapshots"] = [{"snapshotID": "pit-" + random_hex(17), "ageMinutes": age}
                                         for age in (1440, 60, 10)]
            added.append(self._add_source_server(spec).id)
        return added

    # --- time -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.registry.clock().wall()

    def advance(self) -> None:
        """Apply every scheduled transition that is due, in time order."""
        now = self.now()
        while self._schedule and self._schedule[0][0] <= now:
            at, _, action = heapq.heappop(self._schedule)
            action(at)

    def _at(self, at: float, action: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Schedule ``action(*args, at, **kwargs)`` for time ``at``."""
        heapq.heappush(self._schedule, (at, next(self._seq), partial(action, *args, **kwargs)))

    def _draw(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds)

    # --- EC2 (moto) -------------------------------------------------------------------------

    def ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][self.region]

    def ec2_instance(self, instance_id: str) -> Any | None:
        try:
            return self.ec2().get_instance(instance_id)
        except Exception:  # noqa: BLE001 - moto raises InvalidInstanceIdError; gone is gone
            return None

    def _set_ec2_state(self, instance_id: str, name: str, code: int) -> None:
        from moto.ec2.models.instances import InstanceState

        instance = self.ec2_instance(instance_id)
        if instance and instance.state != "terminated":
            instance._state = InstanceState(name, code)

    def _terminate_ec2(self, instance_id: str) -> None:
        instance = self.ec2_instance(instance_id)
        if instance and instance.state != "terminated":
            self.ec2().terminate_instances([instance_id])

    # --- snapshots --------------------------------------------------------------------------

    def _snapshot(self, server: SourceServer, snapshot_id: str, taken: float) -> dict[str, Any]:
        ebs = ["snap-" + random.Random(f"{snapshot_id}:{d['deviceName']}").randbytes(9).hex()[:17]
               for d in server.spec["disks"]]
        return {"snapshotID": snapshot_id, "sourceServerID": server.id,
                "expectedTimestamp": iso(taken - 5), "timestamp": iso(taken), "ebsSnapshots": ebs}

    def describe_recovery_snapshots(self, source_server_id: str, from_time: float | None,
                                    to_time: float | None, order: str) -> list[dict[str, Any]]:
        self.advance()
        if source_server_id not in self.source_servers:
            raise ValidationException(f"Source server {source_server_id} does not exist",
                                      field="sourceServerID")
        items = [s for s in self.snapshots[source_server_id]
                 if (from_time is None or parse_iso(s["timestamp"]) >= from_time)
                 and (to_time is None or parse_iso(s["timestamp"]) <= to_time)]
        items.sort(key=lambda s: s["timestamp"], reverse=(order == "DESC"))
        return [dict(s) for s in items]

    # --- queries ----------------------------------------------------------------------------

    def describe_source_servers(self, ids: list[str] | None, hardware_id: str | None,
                                staging_account_ids: list[str] | None) -> list[dict[str, Any]]:
        self.advance()
        now = self.now()
        servers = list(self.source_servers.values())
        if ids:
            servers = [s for s in servers if s.id in ids]
        if hardware_id:
            servers = [s for s in servers if s.matches_hardware_id(hardware_id)]
        if staging_account_ids:
            servers = [s for s in servers if s.account_id in staging_account_ids]
        return [s.to_dict(now) for s in servers]

    def describe_jobs(self, ids: list[str] | None, from_time: float | None,
                      to_time: float | None) -> list[dict[str, Any]]:
        self.advance()
        jobs = [j for j in self.jobs.values()
                if (not ids or j.id in ids)
                and (from_time is None or j.created >= from_time)
                and (to_time is None or j.created <= to_time)]
        return [j.to_dict() for j in jobs]

    def describe_job_log_items(self, job_id: str) -> list[dict[str, Any]]:
        self.advance()
        if job_id not in self.jobs:
            raise ValidationException(f"Job {job_id} does not exist", field="jobID")
        return copy.deepcopy(self.jobs[job_id].log)

    def describe_recovery_instances(self, ids: list[str] | None,
                                    source_server_ids: list[str] | None) -> list[dict[str, Any]]:
        self.advance()
        return [r.to_dict() for r in self.recovery_instances.values()
                if (not ids or r.id in ids)
                and (not source_server_ids or r.source_server_id in source_server_ids)]

    def active_job_for(self, source_server_id: str) -> Job | None:
        return next((j for j in self.jobs.values() if j.active and source_server_id in j.servers), None)

    # --- StartRecovery ----------------------------------------------------------------------

    def start_recovery(self, requests: list[dict[str, str]], is_drill: bool,
                       tags: dict[str, str] | None) -> dict[str, Any]:
        """Create a LAUNCH job and schedule its life; raise as DRS does for bad input."""
        self.advance()
        ids = [r["sourceServerID"] for r in requests]
        missing = [i for i in ids if i not in self.source_servers]
        if missing:
            raise ValidationException(
                f"Source server(s) not found in account {self.account_id} region {self.region}: "
                + ", ".join(missing), field="sourceServers")
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValidationException("Source server(s) listed more than once: " + ", ".join(duplicates),
                                      field="sourceServers")
        for request in requests:
            snapshot_id = request.get("recoverySnapshotID")
            known = {s["snapshotID"] for s in self.snapshots[request["sourceServerID"]]}
            if snapshot_id and snapshot_id not in known:
                raise ValidationException(
                    f"Recovery snapshot {snapshot_id} does not belong to source server "
                    f"{request['sourceServerID']}", field="sourceServers")
        for source_server_id in ids:
            busy = self.active_job_for(source_server_id)
            if busy:
                raise ConflictException(
                    f"Source server {source_server_id} is already participating in active job {busy.id}",
                    resourceId=source_server_id, resourceType="SOURCE_SERVER")

        now = self.now()
        job = Job(self.account_id, self.region, "LAUNCH",
                  "START_DRILL" if is_drill else "START_RECOVERY", now, tags)
        self.jobs[job.id] = job
        start = now + self._draw(self.registry.timing.pending)
        self._at(start, self._job_started, job)
        end = start
        for request in requests:
            server = self.source_servers[request["sourceServerID"]]
            job.add_server(server.id)
            server.last_launch_result = "PENDING"
            server.last_launch = {
                "initiated": {"apiCallDateTime": iso(now), "jobID": job.id,
                              "type": "DRILL" if is_drill else "RECOVERY"},
                "status": "PENDING",
            }
            duration = self._draw(self.registry.timing.launch)
            failure = self.registry.take_failure(self.account_id, self.region, server.id)
            self._schedule_launch(job, server, start, duration, request.get("recoverySnapshotID"),
                                  failure, is_drill)
            end = max(end, start + duration)
        self._at(end + 1.0, self._job_completed, job)
        return job.to_dict()

    def _schedule_launch(self, job: Job, server: SourceServer, start: float, duration: float,
                         snapshot_id: str | None, failure: str | None, is_drill: bool) -> None:
        """One server's phases, as fractions of its launch duration (DRS job log events)."""
        state: dict[str, Any] = {"snapshot_time": start, "instance_id": None}
        if snapshot_id:
            taken = next(s for s in self.snapshots[server.id] if s["snapshotID"] == snapshot_id)
            state["snapshot_time"] = parse_iso(taken["timestamp"])
        self._at(start, self._cleanup_previous, job, server)
        if snapshot_id:
            self._at(start + 0.05 * duration, self._log, job, "USING_PREVIOUS_SNAPSHOT", server)
        else:
            self._at(start + 0.05 * duration, self._log, job, "SNAPSHOT_START", server)
            self._at(start + 0.15 * duration, self._take_snapshot, job, server, state)
        self._at(start + 0.20 * duration, self._log, job, "CONVERSION_START", server,
                 conversionServerID="i-" + random_hex(17))
        self._at(start + 0.60 * duration, self._log, job, "CONVERSION_END", server)
        self._at(start + 0.65 * duration, self._launch_start, job, server, state, failure)
        self._at(start + duration, self._launch_end, job, server, state, failure, is_drill)

    def _log(self, job: Job, event: str, server: SourceServer, at: float, **data: Any) -> None:
        job.add_log(at, event, sourceServerID=server.id, **data)

    def _job_started(self, job: Job, at: float) -> None:
        job.status = STARTED
        job.add_log(at, "JOB_START")
        for entry in job.servers.values():
            entry["launchStatus"] = "IN_PROGRESS"
            server = self.source_servers[entry["sourceServerID"]]
            if job.type == "LAUNCH" and server.last_launch:
                server.last_launch["status"] = "IN_PROGRESS"

    def _job_completed(self, job: Job, at: float) -> None:
        job.status = COMPLETED
        job.ended = at
        job.add_log(at, "JOB_END")

    def _cleanup_previous(self, job: Job, server: SourceServer, at: float) -> None:
        """A new launch replaces the server's previous recovery instance, as DRS does."""
        previous = server.recovery_instance_id
        if not previous:
            return
        job.add_log(at, "CLEANUP_START", sourceServerID=server.id, targetInstanceID=previous)
        self._terminate_ec2(previous)
        self.recovery_instances.pop(previous, None)
        server.recovery_instance_id = None
        job.add_log(at, "CLEANUP_END", sourceServerID=server.id, targetInstanceID=previous)

    def _take_snapshot(self, job: Job, server: SourceServer, state: dict[str, Any], at: float) -> None:
        snapshot = self._snapshot(server, "pit-" + random_hex(17), at)
        self.snapshots[server.id].append(snapshot)
        state["snapshot_time"] = at
        job.add_log(at, "SNAPSHOT_END", sourceServerID=server.id)

    def _launch_start(self, job: Job, server: SourceServer, state: dict[str, Any],
                      failure: str | None, at: float) -> None:
        """The EC2 instance exists from LAUNCH_START on, pending, like a real launch."""
        if failure is None:
            tags = {**job.tags, **server.tags, **MANAGED_TAG,
                    "drs:source-server-id": server.id, "drs:job-id": job.id}
            try:
                reservation = self.ec2().run_instances(
                    RECOVERY_IMAGE_ID, 1, None, [],
                    instance_type=server.spec["recommendedInstanceType"], is_instance_type_default=False,
                    region_name=self.region, tags={"instance": tags})
            except Exception as error:  # noqa: BLE001 - EC2 refusing the launch fails this server
                state["launch_error"] = f"EC2 launch failed: {error}"
            else:
                state["instance_id"] = reservation.instances[0].id
                self._set_ec2_state(state["instance_id"], "pending", 0)
                job.add_log(at, "LAUNCH_START", sourceServerID=server.id,
                            targetInstanceID=state["instance_id"])
                return
        job.add_log(at, "LAUNCH_START", sourceServerID=server.id)

    def _launch_end(self, job: Job, server: SourceServer, state: dict[str, Any],
                    failure: str | None, is_drill: bool, at: float) -> None:
        entry = job.servers[server.id]
        instance_id = state["instance_id"]
        instance = self.ec2_instance(instance_id) if instance_id else None
        if failure is None and (instance is None or instance.state == "terminated"):
            failure = state.get("launch_error") or f"EC2 instance {instance_id} disappeared during launch"
        if failure is not None:
            entry["launchStatus"] = "FAILED"
            server.last_launch_result = "FAILED"
            server.last_launch["status"] = "FAILED"
            job.add_log(at, "LAUNCH_FAILED", sourceServerID=server.id, rawError=failure)
            return
        if self.registry.take_stuck_pending(self.account_id, self.region, server.id):
            self._set_ec2_state(instance_id, "pending", 0)
        else:
            self._set_ec2_state(instance_id, "running", 16)
        record = RecoveryInstance(self, instance, server, job, is_drill, state["snapshot_time"], at)
        self.recovery_instances[record.id] = record
        server.recovery_instance_id = record.id
        entry["recoveryInstanceID"] = record.id
        entry["launchStatus"] = "LAUNCHED"
        server.last_launch_result = "SUCCEEDED"
        server.last_launch["status"] = "LAUNCHED"

    # --- TerminateRecoveryInstances ---------------------------------------------------------

    def terminate_recovery_instances(self, ids: list[str]) -> dict[str, Any]:
        """Create a TERMINATE job; the EC2 instances shut down when it starts."""
        self.advance()
        missing = [i for i in ids if i not in self.recovery_instances]
        if missing:
            raise ValidationException("Recovery instance(s) not found: " + ", ".join(missing),
                                      field="recoveryInstanceIDs")
        for instance_id in ids:
            busy = self.active_job_for(self.recovery_instances[instance_id].source_server_id)
            if busy:
                raise ConflictException(
                    f"Recovery instance {instance_id} is already participating in active job {busy.id}",
                    resourceId=instance_id, resourceType="RECOVERY_INSTANCE")
        now = self.now()
        job = Job(self.account_id, self.region, "TERMINATE", "TERMINATE_RECOVERY_INSTANCES", now, None)
        self.jobs[job.id] = job
        start = now + self._draw(self.registry.timing.pending)
        self._at(start, self._job_started, job)
        end = start
        for instance_id in dict.fromkeys(ids):
            record = self.recovery_instances[instance_id]
            job.add_server(record.source_server_id, instance_id)
            duration = self._draw(self.registry.timing.terminate)
            self._at(start, self._terminate_start, job, record)
            self._at(start + duration, self._terminate_end, job, record)
            end = max(end, start + duration)
        self._at(end + 1.0, self._job_completed, job)
        return job.to_dict()

    def _terminate_start(self, job: Job, record: RecoveryInstance, at: float) -> None:
        job.add_log(at, "CLEANUP_START", sourceServerID=record.source_server_id, targetInstanceID=record.id)
        self._set_ec2_state(record.id, "shutting-down", 32)

    def _terminate_end(self, job: Job, record: RecoveryInstance, at: float) -> None:
        self._terminate_ec2(record.id)
        self.recovery_instances.pop(record.id, None)
        server = self.source_servers[record.source_server_id]
        if server.recovery_instance_id == record.id:
            server.recovery_instance_id = None
        job.servers[record.source_server_id]["launchStatus"] = "TERMINATED"
        job.add_log(at, "CLEANUP_END", sourceServerID=record.source_server_id, targetInstanceID=record.id)

    # --- control ----------------------------------------------------------------------------

    def hold_pending(self, source_server_id: str) -> str | None:
        """Put the server's live recovery instance back to pending; its id, or None if none."""
        self.advance()
        server = self.source_servers.get(source_server_id)
        if not server or not server.recovery_instance_id:
            return None
        self._set_ec2_state(server.recovery_instance_id, "pending", 0)
        return server.recovery_instance_id


@dataclass
class _Plan:
    source_server_id: str
    account_id: str | None
    region: str | None
    message: str = ""

    def matches(self, account_id: str, region: str, source_server_id: str) -> bool:
        return (self.source_server_id == source_server_id
                and self.account_id in (None, account_id) and self.region in (None, region))


@dataclass
class DrsBackends:
    """Every account's and region's backend, created and seeded on first use.

    Also holds the scenario plans set through the control interface (fail the next recovery
    of a server, keep its next instance pending); ``None`` account or region means any.
    """

    clock: Callable[[], Any]
    timing: Timing = field(default_factory=Timing)
    fixture_path: Path = FIXTURE_PATH
    backends: dict[tuple[str, str], DrsBackend] = field(default_factory=dict)
    failures: list[_Plan] = field(default_factory=list)
    stuck: list[_Plan] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fixture = json.loads(Path(self.fixture_path).read_text())

    def get(self, account_id: str, region: str) -> DrsBackend:
        key = (account_id, region)
        if key not in self.backends:
            self.backends[key] = DrsBackend(self, account_id, region)
        return self.backends[key]

    def reset(self) -> None:
        self.backends.clear()
        self.failures.clear()
        self.stuck.clear()

    def advance_all(self) -> None:
        for backend in list(self.backends.values()):
            backend.advance()

    def plan_failure(self, source_server_id: str, message: str, account_id: str | None = None,
                     region: str | None = None) -> None:
        self.failures.append(_Plan(source_server_id, account_id, region, message))

    def take_failure(self, account_id: str, region: str, source_server_id: str) -> str | None:
        plan = self._take(self.failures, account_id, region, source_server_id)
        return plan.message if plan else None

    def plan_stuck_pending(self, source_server_id: str, account_id: str | None = None,
                           region: str | None = None) -> list[str]:
        """Hold live instances of the server pending now; if there are none, the next one."""
        held = [instance_id for (account, reg), backend in list(self.backends.items())
                if account_id in (None, account) and region in (None, reg)
                for instance_id in [backend.hold_pending(source_server_id)] if instance_id]
        if not held:
            self.stuck.append(_Plan(source_server_id, account_id, region))
        return held

    def take_stuck_pending(self, account_id: str, region: str, source_server_id: str) -> bool:
        return self._take(self.stuck, account_id, region, source_server_id) is not None

    @staticmethod
    def _take(plans: list[_Plan], account_id: str, region: str, source_server_id: str) -> _Plan | None:
        for plan in plans:
            if plan.matches(account_id, region, source_server_id):
                plans.remove(plan)
                return plan
        return None
