"""Fault injection and observation for the DRS simulator, in-process and over unsigned HTTP.

In-process (the endpoint runs in a thread of the test)::

    app.control.inject("StartRecovery", "throttle", count=2)
    app.control.fail_next_recovery("s-3d75cdc0d9a28a725", "Insufficient capacity")
    app.control.stuck_pending("s-3afa164776f93ce4f")
    app.control.calls()   # {"operations": {"StartRecovery": 3, ...}, "faulted": {...}, "total": 9}

Over HTTP (unsigned JSON, same endpoint as moto), under ``/gauntlet-api/drs``:

- ``POST /faults`` ``{"operation", "kind", "count", "code"?, "status"?, "message"?}``;
  ``GET /faults`` lists unconsumed ones; ``DELETE /faults`` clears them.
- ``POST /jobs/fail`` ``{"sourceServerID", "message"?, "accountId"?, "region"?}``.
- ``POST /instances/stuck-pending`` ``{"sourceServerID", "accountId"?, "region"?}``.
- ``POST /source-servers`` ``{"count", "tags"?, "accountId"?, "region"?}`` (scale scenarios).
- ``GET /calls``; ``POST /calls/reset``.
- ``GET /timing``; ``POST /timing`` ``{"pending": [lo, hi], "launch": [...], "terminate": [...], "seed"}``.
- ``POST /reset`` (``POST /moto-api/reset`` does the same, and resets moto).

Omitted ``accountId``/``region`` mean any account or region.

Fault kinds, each consumed by the next ``count`` calls of ``operation`` ("*" = any):

- ``throttle``: HTTP 429 ``ThrottlingException`` (botocore retries it in every retry mode).
- ``error``: HTTP ``status`` (default 500) with error code ``code`` (default
  ``InternalServerException``); 500/502/503/504 are retried by botocore, others are not.
- ``timeout``: the server shuts the TCP connection down without answering, as a lost network
  path does; botocore raises ``ConnectionClosedError``, which its retry handler treats as
  transient and retries. (A real read timeout would need the server to wait, and nothing here
  sleeps.) For an HTTP timeout instead, use ``error`` with ``status`` 504.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .shapes import service_model
from .urls import CONTROL_PREFIX, CONTROL_ROUTES

if TYPE_CHECKING:  # pragma: no cover
    from .app import DrsApp

KINDS = {
    "throttle": ("ThrottlingException", 429, "Rate exceeded"),
    "error": ("InternalServerException", 500, "Injected internal error"),
    "timeout": ("RequestTimeoutException", 504, "Injected connection drop"),
}


@dataclass
class Fault:
    """``remaining`` more calls of ``operation`` get this fault."""

    operation: str
    kind: str
    remaining: int
    code: str
    status: int
    message: str


class ControlError(ValueError):
    """A control request that cannot be honoured (HTTP 400)."""


class Control:
    """What a test may change or observe; every method is thread-safe."""

    def __init__(self, app: DrsApp) -> None:
        self.app = app
        self.lock: threading.RLock = app.lock
        self._faults: list[Fault] = []
        self._calls: Counter = Counter()
        self._faulted: Counter = Counter()

    # --- faults -----------------------------------------------------------------------------

    def inject(self, operation: str = "*", kind: str = "throttle", count: int = 1,
               code: str | None = None, status: int | None = None,
               message: str | None = None) -> dict[str, Any]:
        """Make the next ``count`` calls of ``operation`` fail with ``kind``; returns the fault."""
        if kind not in KINDS:
            raise ControlError(f"unknown fault kind {kind!r}; use one of {sorted(KINDS)}")
        if operation != "*" and operation not in service_model().operation_names:
            raise ControlError(f"unknown DRS operation {operation!r}")
        if int(count) < 1:
            raise ControlError("count must be at least 1")
        default_code, default_status, default_message = KINDS[kind]
        fault = Fault(operation, kind, int(count), code or default_code,
                      int(status or default_status), message or default_message)
        with self.lock:
            self._faults.append(fault)
        return asdict(fault)

    def faults(self) -> list[dict[str, Any]]:
        """Faults not consumed yet."""
        with self.lock:
            return [asdict(f) for f in self._faults]

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def take_fault(self, operation: str) -> Fault | None:
        """Consume one use of the first fault that applies to ``operation`` (called per request)."""
        with self.lock:
            for fault in self._faults:
                if fault.operation in ("*", operation):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    self._faulted[operation] += 1
                    return fault
        return None

    # --- scenario plans ---------------------------------------------------------------------

    def fail_next_recovery(self, source_server_id: str, message: str = "Failed to launch recovery instance",
                           account_id: str | None = None, region: str | None = None) -> None:
        """The next recovery of the server ends FAILED with a LAUNCH_FAILED log carrying ``message``."""
        with self.lock:
            self.app.backends.plan_failure(source_server_id, message, account_id, region)

    def stuck_pending(self, source_server_id: str, account_id: str | None = None,
                      region: str | None = None) -> list[str]:
        """Hold the server's recovery instance in EC2 ``pending``: the live one now, else the next one.

        Returns the ids of instances put back to pending (empty when armed for the next launch).
        """
        with self.lock:
            return self.app.backends.plan_stuck_pending(source_server_id, account_id, region)

    def add_source_servers(self, count: int, tags: dict[str, str] | None = None,
                           account_id: str | None = None, region: str | None = None) -> list[str]:
        """Add replicating servers to one account and region (default: moto's default account,
        us-east-1) beyond the six seeded ones, e.g. for 20-server scenarios; returns their ids."""
        from moto.core import DEFAULT_ACCOUNT_ID

        if not 1 <= int(count) <= 1000:
            raise ControlError("count must be between 1 and 1000")
        with self.lock:
            backend = self.app.backends.get(account_id or DEFAULT_ACCOUNT_ID, region or "us-east-1")
            return backend.add_source_servers(int(count), tags)

    # --- observation ------------------------------------------------------------------------

    def record_call(self, operation: str) -> None:
        with self.lock:
            self._calls[operation] += 1

    def calls(self) -> dict[str, Any]:
        """Calls received per operation (faulted ones included), faults served, and the total."""
        with self.lock:
            return {"operations": dict(self._calls), "faulted": dict(self._faulted),
                    "total": sum(self._calls.values())}

    def reset_calls(self) -> None:
        with self.lock:
            self._calls.clear()
            self._faulted.clear()

    def timing(self) -> dict[str, Any]:
        with self.lock:
            return self.app.backends.timing.as_dict()

    def set_timing(self, **changes: Any) -> dict[str, Any]:
        """Change simulated durations for jobs created from now on, e.g. ``launch=(60, 90)``."""
        with self.lock:
            try:
                return self.app.backends.timing.update(**changes).as_dict()
            except (TypeError, ValueError) as error:
                raise ControlError(str(error)) from None

    def tick(self) -> None:
        """Apply every due job transition in every account (requests do this for their own)."""
        with self.lock:
            self.app.backends.advance_all()

    def reset(self) -> None:
        """Forget all DRS state, faults, plans, call counts and timing changes (not moto's state)."""
        with self.lock:
            self.app.backends.reset()
            self.app.backends.timing = copy.deepcopy(self.app.initial_timing)
            self._faults.clear()
            self.reset_calls()

    # --- HTTP -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        route = CONTROL_ROUTES.get((request.method, request.path[len(CONTROL_PREFIX):].rstrip("/")))
        if route is None:
            return _json({"message": f"no control endpoint {request.method} {request.path}"}, 404)
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
            if not isinstance(body, dict):
                raise ControlError("the body must be a JSON object")
            return _json(getattr(self, route)(body))
        except (ValueError, TypeError) as error:  # ControlError, bad JSON, bad field types
            return _json({"message": str(error)}, 400)
        except KeyError as error:
            return _json({"message": f"missing field {error}"}, 400)

    def http_inject(self, body: dict[str, Any]) -> dict[str, Any]:
        known = {"operation", "kind", "count", "code", "status", "message"}
        _only(body, known)
        return self.inject(**body)

    def http_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"faults": self.faults()}

    def http_clear_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        self.clear_faults()
        return {"faults": []}

    def http_fail_next_recovery(self, body: dict[str, Any]) -> dict[str, Any]:
        _only(body, {"sourceServerID", "message", "accountId", "region"})
        self.fail_next_recovery(body["sourceServerID"], body.get("message") or "Failed to launch recovery instance",
                                body.get("accountId"), body.get("region"))
        return {"sourceServerID": body["sourceServerID"], "armed": True}

    def http_stuck_pending(self, body: dict[str, Any]) -> dict[str, Any]:
        _only(body, {"sourceServerID", "accountId", "region"})
        held = self.stuck_pending(body["sourceServerID"], body.get("accountId"), body.get("region"))
        return {"sourceServerID": body["sourceServerID"], "heldPending": held, "armed": not held}

    def http_add_source_servers(self, body: dict[str, Any]) -> dict[str, Any]:
        _only(body, {"count", "tags", "accountId", "region"})
        ids = self.add_source_servers(body["count"], body.get("tags"), body.get("accountId"), body.get("region"))
        return {"sourceServerIDs": ids}

    def http_calls(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.calls()

    def http_reset_calls(self, body: dict[str, Any]) -> dict[str, Any]:
        self.reset_calls()
        return self.calls()

    def http_timing(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.timing()

    def http_set_timing(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.set_timing(**body)

    def http_reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.reset()
        return {"reset": True}


def _only(body: dict[str, Any], known: set) -> None:
    unknown = set(body) - known
    if unknown:
        raise ControlError(f"unknown field(s) {sorted(unknown)}; expected {sorted(known)}")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
