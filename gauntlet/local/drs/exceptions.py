"""DRS errors as the real service sends them: HTTP status, ``x-amzn-ErrorType`` and a JSON body.

botocore reads the error code from the header and the message from the body, so a
``ClientError`` raised against the simulator looks exactly like one raised against AWS.
"""

from __future__ import annotations

from typing import Any


class DrsError(Exception):
    """An error response: ``code`` goes in ``x-amzn-ErrorType``, ``fields`` in the body."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str, code: str = "", status: int = 0, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.fields}


class ValidationException(DrsError):
    code, status = "ValidationException", 400

    def __init__(self, message: str, reason: str = "fieldValidationFailed", field: str = "") -> None:
        field_list = [{"name": field, "message": message}] if field else None
        super().__init__(message, reason=reason, fieldList=field_list)


class ResourceNotFoundException(DrsError):
    code, status = "ResourceNotFoundException", 404


class ConflictException(DrsError):
    code, status = "ConflictException", 409


class ThrottlingException(DrsError):
    code, status = "ThrottlingException", 429


class InternalServerException(DrsError):
    code, status = "InternalServerException", 500
