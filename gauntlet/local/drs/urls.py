"""Routes (moto's ``urls.py``): DRS operations by path, control endpoints by method and path.

Every DRS operation is ``POST /<OperationName>`` (rest-json). Control endpoints live under
``/gauntlet-api/drs/`` and are unsigned.
"""

from __future__ import annotations

CONTROL_PREFIX = "/gauntlet-api/drs"

# Operation name -> DrsResponse method. Other operations of the model answer 501.
OPERATIONS = {
    "StartRecovery": "start_recovery",
    "DescribeJobs": "describe_jobs",
    "DescribeJobLogItems": "describe_job_log_items",
    "DescribeSourceServers": "describe_source_servers",
    "DescribeRecoveryInstances": "describe_recovery_instances",
    "DescribeRecoverySnapshots": "describe_recovery_snapshots",
    "TerminateRecoveryInstances": "terminate_recovery_instances",
}

# (method, path under CONTROL_PREFIX) -> Control HTTP handler method.
CONTROL_ROUTES = {
    ("POST", "/faults"): "http_inject",
    ("GET", "/faults"): "http_faults",
    ("DELETE", "/faults"): "http_clear_faults",
    ("POST", "/jobs/fail"): "http_fail_next_recovery",
    ("POST", "/instances/stuck-pending"): "http_stuck_pending",
    ("POST", "/source-servers"): "http_add_source_servers",
    ("GET", "/calls"): "http_calls",
    ("POST", "/calls/reset"): "http_reset_calls",
    ("GET", "/timing"): "http_timing",
    ("POST", "/timing"): "http_set_timing",
    ("POST", "/reset"): "http_reset",
}
