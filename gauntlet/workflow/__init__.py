"""JSON workflow suites: schema and validation, loading, execution, result JSON, CLI.

See gauntlet/workflow/README.md for the file format and the rules validation applies.
"""

from gauntlet.workflow.executor import (
    Deployment,
    MachineFacts,
    StepOutcome,
    WorkflowEnvironment,
    WorkflowExecutor,
    register_step,
)
from gauntlet.workflow.loader import MissingComponent, load_workflow_file
from gauntlet.workflow.results import StepResult, WorkflowResult, write_result
from gauntlet.workflow.schema import (
    Field,
    Requirements,
    Retry,
    Step,
    StepSchema,
    Suite,
    WorkflowError,
    WorkflowFile,
)

__all__ = [
    "Deployment", "Field", "MachineFacts", "MissingComponent", "Requirements", "Retry", "Step",
    "StepOutcome", "StepResult", "StepSchema", "Suite", "WorkflowEnvironment", "WorkflowError",
    "WorkflowExecutor", "WorkflowFile", "WorkflowResult", "load_workflow_file", "register_step",
    "write_result",
]
