"""DRS operation handlers: validated JSON parameters in, response bodies shaped like botocore's out.

Each handler takes the request's parameters and the account's and region's backend; errors are
raised as :class:`~gauntlet.local.drs.exceptions.DrsError` and rendered by the app.
"""

from __future__ import annotations

import base64
from typing import Any

from .exceptions import ValidationException
from .models import DrsBackend, parse_iso

Params = dict[str, Any]


def paginate(items: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """``maxResults``/``nextToken`` paging with an opaque offset token (works with boto3 paginators)."""
    offset = 0
    token = params.get("nextToken")
    if token:
        try:
            kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            offset = int(value)
            if kind != "offset" or offset < 0:
                raise ValueError(token)
        except ValueError:
            raise ValidationException(f"Invalid nextToken {token!r}", field="nextToken") from None
    limit = params.get("maxResults") or 1000
    page = items[offset:offset + limit]
    body: dict[str, Any] = {"items": page}
    if offset + limit < len(items):
        body["nextToken"] = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
    return body


def _time(filters: Params, name: str) -> float | None:
    return parse_iso(filters[name]) if filters.get(name) else None


class DrsResponse:
    """One method per implemented DRS operation (moto's ``responses.py`` pattern)."""

    def __init__(self, backend: DrsBackend) -> None:
        self.backend = backend

    def start_recovery(self, params: Params) -> dict[str, Any]:
        job = self.backend.start_recovery(params["sourceServers"], bool(params.get("isDrill", False)),
                                          params.get("tags"))
        return {"job": job}

    def describe_jobs(self, params: Params) -> dict[str, Any]:
        filters = params.get("filters") or {}
        items = self.backend.describe_jobs(filters.get("jobIDs"), _time(filters, "fromDate"),
                                           _time(filters, "toDate"))
        return paginate(items, params)

    def describe_job_log_items(self, params: Params) -> dict[str, Any]:
        return paginate(self.backend.describe_job_log_items(params["jobID"]), params)

    def describe_source_servers(self, params: Params) -> dict[str, Any]:
        filters = params.get("filters") or {}
        items = self.backend.describe_source_servers(filters.get("sourceServerIDs"),
                                                     filters.get("hardwareId"),
                                                     filters.get("stagingAccountIDs"))
        return paginate(items, params)

    def describe_recovery_instances(self, params: Params) -> dict[str, Any]:
        filters = params.get("filters") or {}
        items = self.backend.describe_recovery_instances(filters.get("recoveryInstanceIDs"),
                                                         filters.get("sourceServerIDs"))
        return paginate(items, params)

    def describe_recovery_snapshots(self, params: Params) -> dict[str, Any]:
        filters = params.get("filters") or {}
        items = self.backend.describe_recovery_snapshots(
            params["sourceServerID"], _time(filters, "fromDateTime"), _time(filters, "toDateTime"),
            params.get("order") or "ASC")
        return paginate(items, params)

    def terminate_recovery_instances(self, params: Params) -> dict[str, Any]:
        return {"job": self.backend.terminate_recovery_instances(params["recoveryInstanceIDs"])}
