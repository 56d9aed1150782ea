"""Validation checks (probes of a cluster) and the polling helpers that retry them."""

from gauntlet.checks.context import CheckContext, CheckUnavailable, DatabaseProbe
from gauntlet.checks.polling import PollResult, consistently, eventually, retry
from gauntlet.checks.registry import (
    Check,
    CheckOutcome,
    ValidationRegistry,
    parse_node_status,
    validation_registry,
)

__all__ = [
    "Check", "CheckContext", "CheckOutcome", "CheckUnavailable", "DatabaseProbe", "PollResult",
    "ValidationRegistry", "consistently", "eventually", "parse_node_status", "retry",
    "validation_registry",
]
