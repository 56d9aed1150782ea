"""The execution engine: runs a recovery plan wave by wave against AWS DRS and EC2.

The execution record in DynamoDB is the engine's whole state, so an execution can be driven by
one process (:meth:`ExecutionEngine.run`) or one short Lambda invocation per tick from the Step
Functions state machine (:meth:`ExecutionEngine.step`): the same code either way.

One tick (``step``):

1. stop if cancelled (CANCELLED) or past ``ExecutionTimeoutSeconds`` (FAILED, "execution timed
   out after N s");
2. with no wave running, start the lowest-numbered PENDING wave whose DependsOn waves all
   COMPLETED (after the previous wave's WaitTimeSeconds), or finish the execution;
3. for the running wave: one DescribeJobs for all its active jobs, one DescribeInstanceStatus for
   all instances under health check, then launch what may launch (PARALLEL: every server in one
   StartRecovery; SEQUENTIAL: the next server in ExecutionOrder once the previous recovered);
4. when every server of the wave is done, the wave is COMPLETED or FAILED; a FAILED wave marks
   every wave that depends on it, directly or not, SKIPPED;
5. save, and say how long to wait before the next tick (job poll or health-check interval).

All waits go through the clock (``clock=None`` means :func:`gauntlet.clock.default_clock` at the
time of the call).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import uuid
from typing import Dict, List, Optional

from gauntlet.clock import Clock, default_clock
from gauntlet.sut.drs_engine.accounts import AccountContext, Accounts, CrossAccountError
from gauntlet.sut.drs_engine.health import HealthCheckError, instance_states, verdict
from gauntlet.sut.drs_engine.history import HistoryStore, iso_time, parse_time
from gauntlet.sut.drs_engine.jobs import DrsError, DrsJobs
from gauntlet.sut.drs_engine.notify import publish_summary
from gauntlet.sut.drs_engine.plan import (
    ProtectionGroup,
    RecoveryPlan,
    Wave,
    parse_protection_groups,
    validate_plan,
)
from gauntlet.sut.drs_engine.waves import dependents, next_ready

log = logging.getLogger(__name__)

DEFAULT_HISTORY_TABLE = "drs-execution-history"
RUNNING, COMPLETED, FAILED, CANCELLED = "RUNNING", "COMPLETED", "FAILED", "CANCELLED"
PENDING, IN_PROGRESS, SKIPPED = "PENDING", "IN_PROGRESS", "SKIPPED"
DONE_STATES = (COMPLETED, FAILED, SKIPPED, CANCELLED)
_ID_NAMESPACE = uuid.UUID("5d0c62d8-31f3-4c51-9f0e-0f8f7c3b5a10")


class ExecutionNotFound(KeyError):
    """No execution record with that ExecutionId."""


class ExecutionEngine:
    """Start, drive, inspect and cancel recovery-plan executions.

    ``history_table``: DynamoDB table for execution records (see :meth:`ensure_history_table`).
    ``region``: AWS region (default: the environment's, else us-east-1). ``poll_interval``:
    seconds between DescribeJobs polls. ``accounts``: an :class:`Accounts` to reuse (tests).
    """

    def __init__(self, history_table: str = DEFAULT_HISTORY_TABLE, clock: Optional[Clock] = None,
                 region: Optional[str] = None, poll_interval: float = 30,
                 accounts: Optional[Accounts] = None) -> None:
        self._clock = clock
        self.poll_interval = poll_interval
        self.accounts = accounts or Accounts(region, self._current_clock)
        self.store = HistoryStore(history_table, self.accounts.home().client("dynamodb"),
                                  self._current_clock)

    @property
    def clock(self) -> Clock:
        return self._current_clock()

    def _current_clock(self) -> Clock:
        return self._clock or default_clock()

    # -- public surface ----------------------------------------------------------------------

    def ensure_history_table(self) -> None:
        """Create the history table (and its PlanId/StartTime index) if it does not exist."""
        self.store.ensure_table()

    def start(self, plan: dict, protection_groups, idempotency_key: Optional[str] = None) -> str:
        """Validate ``plan`` and record a RUNNING execution; returns its ExecutionId.

        Raises :class:`PlanValidationError` before any AWS call if the plan is invalid, and
        :class:`CrossAccountError` if its cross-account role cannot be assumed. Starting a plan
        that already has a RUNNING execution, or reusing an idempotency key, returns the
        existing ExecutionId and starts nothing.
        """
        typed = validate_plan(plan, protection_groups)
        target = self.accounts.for_plan(typed)
        execution_id = (str(uuid.uuid5(_ID_NAMESPACE, f"{typed.plan_id}/{idempotency_key}"))
                        if idempotency_key else str(uuid.uuid4()))
        if idempotency_key and self.store.get(execution_id):
            return execution_id
        for _ in range(5):
            holder = self.store.claim_holder(typed.plan_id)
            if holder:
                active = self.store.get(holder)
                if active and self._still_running(active):
                    log.info("plan %s already running as %s", typed.plan_id, holder)
                    return holder
            record = self._new_record(execution_id, typed, protection_groups, target, idempotency_key)
            outcome = self.store.create(record, typed.plan_id, holder)
            if outcome in ("created", "exists"):
                return execution_id
        raise RuntimeError(f"could not claim plan {typed.plan_id}: its claim kept changing")

    def _still_running(self, record: dict) -> bool:
        """RUNNING and updated within its execution timeout. An engine that crashed, or lost
        DynamoDB for good, leaves a RUNNING record nobody updates: past its timeout a new start
        takes the plan over instead of returning a dead ExecutionId."""
        if record["Status"] != RUNNING:
            return False
        updated = parse_time(record.get("UpdatedAt") or record["StartTime"])
        return self.clock.wall() - updated <= float(record.get("ExecutionTimeoutSeconds", 3600))

    def run(self, execution_id: str) -> dict:
        """Drive the execution to its end, waiting on the clock between ticks; returns status.

        The record stays in memory between ticks; each tick re-reads only Status and
        CancelRequested, so a cancel from anywhere is seen at the next tick.
        """
        record = self._load(execution_id)
        while True:
            try:
                tick = self._step(record)
            except Exception as error:
                try:
                    self.fail(execution_id, f"engine error: {type(error).__name__}: {error}")
                except Exception:
                    log.exception("could not record the failure of %s", execution_id)
                raise
            if tick["Done"]:
                return self.status(execution_id)
            self.clock.sleep(tick["WaitSeconds"])
            record.update(self.store.control(execution_id))

    def execute(self, plan: dict, protection_groups, idempotency_key: Optional[str] = None) -> dict:
        """``start`` then ``run``: the final status record."""
        return self.run(self.start(plan, protection_groups, idempotency_key))

    def status(self, execution_id: str) -> dict:
        """The execution record (without the stored plan copy)."""
        record = self._load(execution_id)
        return {key: value for key, value in record.items() if key not in ("Plan", "ProtectionGroups")}

    def cancel(self, execution_id: str) -> bool:
        """Ask a RUNNING execution to stop: no further wave or server is launched and it ends
        CANCELLED at its next tick. Returns False if it had already ended."""
        if not self.store.control(execution_id):
            raise ExecutionNotFound(f"no execution {execution_id} in table {self.store.table_name}")
        return self.store.update(execution_id, {"CancelRequested": True,
                                                "UpdatedAt": iso_time(self.clock.wall())},
                                 only_if_running=True)

    def history(self, plan_id: Optional[str] = None, limit: int = 50) -> List[dict]:
        """Execution records, newest first, optionally of one plan only."""
        return [{k: v for k, v in r.items() if k not in ("Plan", "ProtectionGroups")}
                for r in self.store.query(plan_id, limit)]

    def step(self, execution_id: str) -> dict:
        """Advance the execution by one tick. Returns ``{ExecutionId, Status, Done, WaitSeconds,
        Phase}``; Phase is RUNNING, HEALTH_CHECK, WAVE_PAUSE or DONE."""
        return self._step(self._load(execution_id))

    def _step(self, record: dict) -> dict:
        """One tick on ``record`` (updated in place, and in the table)."""
        if record["Status"] != RUNNING:
            return _tick(record, 0, "DONE")
        plan = _stored_plan(record)
        now = self.clock.wall()
        started = parse_time(record["StartTime"])
        deadline = started + plan.execution_timeout_seconds
        # 1. cancelled or out of time
        if record.get("CancelRequested"):
            return self._finish(record, plan, CANCELLED, "cancelled by user")
        if now >= deadline:
            return self._finish(record, plan, FAILED,
                                f"execution timed out after {plan.execution_timeout_seconds} s")
        try:
            account = self.accounts.for_plan(plan)
            account.refresh_if_needed()
        except CrossAccountError as error:
            return self._finish(record, plan, FAILED, str(error))
        unchanged = copy.deepcopy(record["Waves"])
        # 2. the running wave, or the next one (after the pause), or the end
        wave = _running_wave(record)
        if wave is None:
            resume_at = parse_time(record["NextWaveAt"]) if record.get("NextWaveAt") else now
            if now < resume_at:
                return _tick(record, min(resume_at, deadline) - now, "WAVE_PAUSE")
            graph = {w.wave_number: w.depends_on for w in plan.waves}
            number = next_ready(graph, {w["WaveNumber"]: w["Status"] for w in record["Waves"]})
            if number is None:
                return self._finish(record, plan, None, "")
            wave = _wave_record(record, number)
            self._begin_wave(wave, account, now)
        # 3. monitor, health-check, launch
        plan_wave = plan.wave(wave["WaveNumber"])
        self._advance_wave(wave, plan_wave, plan, account, record["ExecutionId"])
        # 4. close the wave when all its servers are done; 5. save and say when to come back
        fields = {"Waves": record["Waves"], "UpdatedAt": iso_time(self.clock.wall())}
        if all(s["Status"] in DONE_STATES for s in wave["Servers"]):
            self._close_wave(record, wave, plan)
            fields["NextWaveAt"] = iso_time(self.clock.wall() + plan_wave.wait_time_seconds)
            self.store.update(record["ExecutionId"], fields)
            record.update(fields)
            return _tick(record, min(plan_wave.wait_time_seconds, deadline - now), "WAVE_PAUSE")
        if record["Waves"] != unchanged:  # a poll that changed nothing writes nothing
            self.store.update(record["ExecutionId"], fields)
            record.update(fields)
        checking = any(s["HealthCheck"] == PENDING for s in wave["Servers"])
        launching = any(s["Status"] == IN_PROGRESS and s["HealthCheck"] != PENDING for s in wave["Servers"])
        interval = min(([plan_wave.health_check.interval_seconds] if checking else [])
                       + ([self.poll_interval] if launching or not checking else []))
        return _tick(record, min(interval, deadline - now), "HEALTH_CHECK" if checking else "RUNNING")

    def fail(self, execution_id: str, reason: str) -> dict:
        """End a RUNNING execution as FAILED with ``reason`` (e.g. from the state machine's Catch)."""
        record = self.store.get(execution_id)
        if record is None or record["Status"] != RUNNING:
            return _tick(record or {"ExecutionId": execution_id, "Status": "UNKNOWN"}, 0, "DONE")
        return self._finish(record, _stored_plan(record), FAILED, reason)

    # -- waves -------------------------------------------------------------------------------

    def _begin_wave(self, wave: dict, account: AccountContext, now: float) -> None:
        """Mark the wave RUNNING; servers DRS does not know fail now, with their id in the error."""
        wave["Status"], wave["StartTime"] = RUNNING, iso_time(now)
        log.info("wave %s (%s) started", wave["WaveNumber"], wave["WaveName"])
        ids = [s["SourceServerId"] for s in wave["Servers"]]
        try:
            missing = set(self._drs(account).missing_servers(ids))
        except DrsError as error:
            for server in wave["Servers"]:
                self._end_server(server, FAILED, str(error))
            return
        for server in wave["Servers"]:
            if server["SourceServerId"] in missing:
                self._end_server(server, FAILED, f"source server {server['SourceServerId']} not found "
                                                 f"in DRS (account {account.account_id or '?'}, "
                                                 f"region {account.region})")

    def _advance_wave(self, wave: dict, plan_wave: Wave, plan: RecoveryPlan,
                      account: AccountContext, execution_id: str) -> None:
        drs = self._drs(account)
        self._monitor_jobs(wave, plan_wave, drs)
        self._check_health(wave, plan_wave, account)
        self._launch(wave, plan_wave, plan, drs, execution_id)

    def _monitor_jobs(self, wave: dict, plan_wave: Wave, drs: DrsJobs) -> None:
        active = [s for s in wave["Servers"] if s["Status"] == IN_PROGRESS and s["JobId"]
                  and not s["HealthCheck"]]
        if not active:
            return
        job_ids = sorted({s["JobId"] for s in active})
        try:
            jobs = drs.progress(job_ids, [s["SourceServerId"] for s in active])
        except DrsError as error:
            for server in active:
                self._end_server(server, FAILED, str(error))
            return
        launched, failed_jobs = [], {}
        for server in active:
            job = jobs.get(server["JobId"])
            progress = job.servers.get(server["SourceServerId"]) if job else None
            if progress is None:
                continue  # not visible yet: poll again
            server["JobStatus"], server["LaunchStatus"] = job.status, progress.launch_status
            if progress.recovery_instance_id:
                server["RecoveryInstanceId"] = progress.recovery_instance_id
            if progress.status == COMPLETED:
                launched.append(server)
            elif progress.status == FAILED:
                failed_jobs.setdefault(server["JobId"], []).append(server)
        for job_id, servers in failed_jobs.items():
            reasons = drs.failure_messages(job_id)
            for server in servers:
                reason = reasons.get(server["SourceServerId"]) or \
                    f"launchStatus {server['LaunchStatus']}"
                self._end_server(server, FAILED, f"DRS job {job_id} failed for "
                                                 f"{server['SourceServerId']}: {reason}")
        self._found_instances(launched, plan_wave, drs)

    def _found_instances(self, launched: List[dict], plan_wave: Wave, drs: DrsJobs) -> None:
        """Recovery instance ids for newly LAUNCHED servers, then health check (or done)."""
        unknown = [s for s in launched if not s["RecoveryInstanceId"]]
        if unknown:
            try:
                found = drs.instance_ids([s["SourceServerId"] for s in unknown],
                                         {s["SourceServerId"]: s["JobId"] for s in unknown})
            except DrsError as error:
                found = {}
                log.warning("%s", error)
            for server in unknown:
                server["RecoveryInstanceId"] = found.get(server["SourceServerId"], "")
        now = self.clock.wall()
        for server in launched:
            if not server["RecoveryInstanceId"]:
                self._end_server(server, FAILED, f"DRS job {server['JobId']} launched "
                                                 f"{server['SourceServerId']} but reported no recovery "
                                                 "instance")
            elif plan_wave.health_check.enabled:
                server["HealthCheck"], server["HealthCheckStartTime"] = PENDING, iso_time(now)
            else:
                server["HealthCheck"] = SKIPPED
                self._end_server(server, COMPLETED, "")

    def _check_health(self, wave: dict, plan_wave: Wave, account: AccountContext) -> None:
        checking = [s for s in wave["Servers"] if s["HealthCheck"] == PENDING]
        if not checking:
            return
        try:
            states = instance_states(account.client("ec2"), [s["RecoveryInstanceId"] for s in checking])
        except HealthCheckError as error:
            for server in checking:
                server["HealthCheck"] = FAILED
                self._end_server(server, FAILED, str(error))
            return
        now = self.clock.wall()
        for server in checking:
            state = states.get(server["RecoveryInstanceId"], "not-found")
            server["InstanceState"] = state
            elapsed = now - parse_time(server["HealthCheckStartTime"])
            result, reason = verdict(server["RecoveryInstanceId"], state, elapsed,
                                     plan_wave.health_check.timeout_seconds)
            if result == "PASSED":
                server["HealthCheck"] = "PASSED"
                self._end_server(server, COMPLETED, "")
            elif result == FAILED:
                server["HealthCheck"] = FAILED
                self._end_server(server, FAILED, reason)

    def _launch(self, wave: dict, plan_wave: Wave, plan: RecoveryPlan, drs: DrsJobs,
                execution_id: str) -> None:
        waiting = [s for s in wave["Servers"] if s["Status"] == PENDING]
        if not waiting:
            return
        if plan_wave.execution_type == "SEQUENTIAL":
            if any(s["Status"] == IN_PROGRESS for s in wave["Servers"]):
                return
            failed = [s["SourceServerId"] for s in wave["Servers"] if s["Status"] == FAILED]
            if failed:
                for server in waiting:
                    self._end_server(server, SKIPPED, f"not launched: earlier server {failed[0]} failed")
                return
            waiting = waiting[:1]
        servers = {s.source_server_id: s for s in plan_wave.servers}
        tags = {"gauntlet:execution-id": execution_id, "gauntlet:plan-id": plan.plan_id,
                "gauntlet:wave": str(plan_wave.wave_number)}
        now = iso_time(self.clock.wall())
        try:
            launch = drs.start([servers[s["SourceServerId"]] for s in waiting], plan.is_drill, tags)
        except DrsError as error:
            for server in waiting:
                self._end_server(server, FAILED, str(error))
            return
        for server in waiting:
            sid = server["SourceServerId"]
            if sid in launch.jobs:
                server.update(Status=IN_PROGRESS, JobId=launch.jobs[sid], JobStatus=PENDING, StartTime=now)
            else:
                self._end_server(server, FAILED, launch.errors.get(sid, "not launched"))

    def _close_wave(self, record: dict, wave: dict, plan: RecoveryPlan) -> None:
        now = iso_time(self.clock.wall())
        failed = [s for s in wave["Servers"] if s["Status"] != COMPLETED]
        wave["Status"], wave["EndTime"] = (FAILED if failed else COMPLETED), now
        wave["Error"] = "; ".join(f"{s['SourceServerId']}: {s['Error']}" for s in failed)
        log.info("wave %s (%s) %s", wave["WaveNumber"], wave["WaveName"], wave["Status"])
        if failed:
            graph = {w.wave_number: w.depends_on for w in plan.waves}
            for other in record["Waves"]:
                if other["WaveNumber"] in dependents(graph, wave["WaveNumber"]) \
                        and other["Status"] == PENDING:
                    _skip_wave(other, f"skipped: depends on failed wave {wave['WaveNumber']}", now)

    # -- the end -----------------------------------------------------------------------------

    def _finish(self, record: dict, plan: RecoveryPlan, status: Optional[str], reason: str) -> dict:
        now = self.clock.wall()
        stamp = iso_time(now)
        for wave in record["Waves"]:
            if wave["Status"] == RUNNING:
                wave["Status"], wave["EndTime"] = status or FAILED, stamp
                wave["Error"] = reason
                for server in wave["Servers"]:
                    if server["Status"] not in DONE_STATES:
                        self._end_server(server, status or FAILED, reason)
            elif wave["Status"] == PENDING:
                _skip_wave(wave, reason or "skipped: its dependencies did not complete", stamp,
                           CANCELLED if status == CANCELLED else SKIPPED)
        if status is None:
            status = COMPLETED if all(w["Status"] == COMPLETED for w in record["Waves"]) else FAILED
            bad = [w for w in record["Waves"] if w["Status"] == FAILED]
            reason = "; ".join(f"wave {w['WaveNumber']} ({w['WaveName']}) failed: {w['Error']}"
                               for w in bad)
        fields = {"Status": status, "EndTime": stamp, "Error": reason, "Waves": record["Waves"],
                  "Duration": round(parse_time(stamp) - parse_time(record["StartTime"]), 3),
                  "UpdatedAt": stamp}
        if not self.store.update(record["ExecutionId"], fields, only_if_running=True):
            return _tick(self._load(record["ExecutionId"]), 0, "DONE")
        record.update(fields)
        self.store.release_claim(record["PlanId"], record["ExecutionId"])
        log.info("execution %s %s %s", record["ExecutionId"], status, reason)
        outcome = publish_summary(self.accounts.home().client("sns"), plan.sns_topic_arn, record)
        self.store.update(record["ExecutionId"], {"Notification": outcome})
        return _tick(record, 0, "DONE")

    # -- helpers -----------------------------------------------------------------------------

    def _end_server(self, server: dict, status: str, error: str) -> None:
        server["Status"], server["Error"] = status, error
        server["EndTime"] = iso_time(self.clock.wall())
        if status == FAILED:
            log.warning("server %s failed (job %s): %s", server["SourceServerId"],
                        server["JobId"] or "-", error)

    def _drs(self, account: AccountContext) -> DrsJobs:
        return DrsJobs(account.client("drs"), lambda: self.clock.wall())

    def _load(self, execution_id: str) -> dict:
        record = self.store.get(execution_id)
        if record is None:
            raise ExecutionNotFound(f"no execution {execution_id} in table {self.store.table_name}")
        return record

    def _new_record(self, execution_id: str, plan: RecoveryPlan, protection_groups,
                    target: AccountContext, idempotency_key: Optional[str]) -> dict:
        now = iso_time(self.clock.wall())
        home = self.accounts.home()
        servers = {s.source_server_id for w in plan.waves for s in w.servers}
        groups = _group_list(protection_groups, {w.protection_group_id for w in plan.waves}, servers)
        return {
            "ExecutionId": execution_id, "PlanId": plan.plan_id, "PlanName": plan.plan_name,
            "Status": RUNNING, "StartTime": now, "EndTime": "", "Duration": 0, "UpdatedAt": now,
            "IsDrill": plan.is_drill, "SourceAccountId": home.account_id,
            "TargetAccountId": plan.target_account_id or target.account_id,
            "CrossAccountRoleArn": plan.cross_account_role_arn, "Region": target.region,
            "SnsTopicArn": plan.sns_topic_arn, "IdempotencyKey": idempotency_key or "",
            "ExecutionTimeoutSeconds": plan.execution_timeout_seconds, "CancelRequested": False,
            "Error": "", "ServerCount": plan.server_count, "NextWaveAt": "", "Notification": "",
            "Plan": json.dumps(_plan_document(plan)), "ProtectionGroups": json.dumps(groups),
            "Waves": [_new_wave(w) for w in sorted(plan.waves, key=lambda w: w.wave_number)],
        }


def _new_wave(wave: Wave) -> dict:
    return {
        "WaveNumber": wave.wave_number, "WaveName": wave.wave_name,
        "ProtectionGroupId": wave.protection_group_id, "ExecutionType": wave.execution_type,
        "DependsOn": list(wave.depends_on), "Status": PENDING, "StartTime": "", "EndTime": "", "Error": "",
        "Servers": [{
            "SourceServerId": s.source_server_id, "ExecutionOrder": s.execution_order,
            "RecoverySnapshotId": s.recovery_snapshot_id, "Status": PENDING, "JobId": "", "JobStatus": "",
            "LaunchStatus": "", "RecoveryInstanceId": "", "InstanceState": "", "HealthCheck": "",
            "HealthCheckStartTime": "", "StartTime": "", "EndTime": "", "Error": "",
        } for s in wave.servers_in_order()],
    }


def _plan_document(plan: RecoveryPlan) -> dict:
    """The plan as validated, with every wave's servers spelled out."""
    document = dict(plan.source)
    document["Waves"] = [{
        "WaveNumber": w.wave_number, "WaveName": w.wave_name, "ProtectionGroupId": w.protection_group_id,
        "ExecutionType": w.execution_type, "DependsOn": list(w.depends_on),
        "WaitTimeSeconds": w.wait_time_seconds,
        "HealthCheck": {"Enabled": w.health_check.enabled, "TimeoutSeconds": w.health_check.timeout_seconds,
                        "IntervalSeconds": w.health_check.interval_seconds},
        "Servers": [{"SourceServerId": s.source_server_id, "ExecutionOrder": s.execution_order,
                     **({"RecoverySnapshotId": s.recovery_snapshot_id} if s.recovery_snapshot_id else {})}
                    for s in w.servers],
    } for w in plan.waves]
    return document


def _group_list(protection_groups, wanted, servers) -> List[dict]:
    """The protection groups the plan uses: named by a wave or holding one of its servers."""
    groups = protection_groups
    if not isinstance(groups, dict) or any(not isinstance(g, ProtectionGroup) for g in groups.values()):
        groups = parse_protection_groups(protection_groups)
    return [{"ProtectionGroupId": g.protection_group_id, "Name": g.name,
             "SourceServerIds": list(g.source_server_ids)} for g in groups.values()
            if g.protection_group_id in wanted or servers & set(g.source_server_ids)]


def _stored_plan(record: dict) -> RecoveryPlan:
    return validate_plan(json.loads(record["Plan"]), json.loads(record["ProtectionGroups"]))


def _running_wave(record: dict) -> Optional[dict]:
    return next((w for w in record["Waves"] if w["Status"] == RUNNING), None)


def _wave_record(record: dict, number: int) -> dict:
    return next(w for w in record["Waves"] if w["WaveNumber"] == number)


def _skip_wave(wave: dict, reason: str, stamp: str, status: str = SKIPPED) -> None:
    wave["Status"], wave["Error"], wave["EndTime"] = status, reason, stamp
    for server in wave["Servers"]:
        if server["Status"] == PENDING:
            server["Status"], server["Error"], server["EndTime"] = status, reason, stamp


def _tick(record: dict, wait: float, phase: str) -> Dict[str, object]:
    return {"ExecutionId": record["ExecutionId"], "Status": record["Status"], "Done": phase == "DONE",
            "WaitSeconds": max(0, math.ceil(wait)), "Phase": phase}
