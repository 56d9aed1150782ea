"""The Step Functions definition that drives the engine through its Lambda entry."""

from __future__ import annotations

import json
from pathlib import Path

DEFINITION_FILE = Path(__file__).with_name("state_machine.asl.json")
FUNCTION_PLACEHOLDER = "${DrsEngineFunctionArn}"


def definition(function_arn: str) -> str:
    """The ASL JSON with the engine Lambda's ARN filled in."""
    text = DEFINITION_FILE.read_text()
    json.loads(text)  # fail here, not in Step Functions, if the file is broken
    return text.replace(FUNCTION_PLACEHOLDER, function_arn)
