"""Reference wave-based disaster-recovery execution engine (AWS DRS + EC2 + DynamoDB + SNS + STS).

Written against the real AWS APIs with boto3: it runs unchanged against an AWS account, and
offline against moto plus the Gauntlet DRS simulator (boto3 follows ``AWS_ENDPOINT_URL``).

    engine = ExecutionEngine(history_table="drs-execution-history")
    engine.ensure_history_table()
    execution_id = engine.start(plan, protection_groups)     # validates first
    engine.run(execution_id)                                  # or: Step Functions + lambda_handler
    engine.status(execution_id)["Status"]                     # COMPLETED | FAILED | CANCELLED

Modules: plan (model + validation), waves (dependency order), jobs (DRS), health (EC2),
history (DynamoDB), notify (SNS), accounts (STS), retry (botocore retries on the clock),
engine (the tick loop), handler (the Lambda entry, ``handler.lambda_handler``) and
state_machine (the Step Functions definition); stubs (test doubles for DRS).
"""

from gauntlet.sut.drs_engine.accounts import Accounts, CrossAccountError
from gauntlet.sut.drs_engine.engine import DEFAULT_HISTORY_TABLE, ExecutionEngine, ExecutionNotFound
from gauntlet.sut.drs_engine.handler import lambda_handler
from gauntlet.sut.drs_engine.jobs import DrsError
from gauntlet.sut.drs_engine.plan import (
    PlanValidationError,
    ProtectionGroup,
    RecoveryPlan,
    parse_protection_groups,
    validate_plan,
)
from gauntlet.sut.drs_engine.retry import RETRY_CONFIG, RetriesExhausted

__all__ = [
    "Accounts", "CrossAccountError", "DEFAULT_HISTORY_TABLE", "DrsError", "ExecutionEngine",
    "ExecutionNotFound", "PlanValidationError", "ProtectionGroup", "RETRY_CONFIG", "RecoveryPlan",
    "RetriesExhausted", "lambda_handler", "parse_protection_groups", "validate_plan",
]
