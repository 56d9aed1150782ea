"""The DRS simulator as a WSGI app, served by :mod:`gauntlet.local.endpoint` beside moto.

A request's account comes from its SigV4 access key, mapped the way moto maps it (so
credentials from ``sts.assume_role`` into another account land in that account); its region
comes from the credential scope. Each request is counted, may meet an injected fault, and then
reaches the handler of its operation.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from gauntlet.clock import Clock, default_clock

from .control import Control, Fault
from .exceptions import DrsError, ValidationException
from .models import FIXTURE_PATH, DrsBackends, Timing
from .responses import DrsResponse
from .shapes import service_model, success_status, validate_input
from .urls import CONTROL_PREFIX, OPERATIONS

log = logging.getLogger(__name__)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/")
DEFAULT_REGION = "us-east-1"


def request_identity(environ: dict) -> tuple[str, str]:
    """(account id, region) of a signed request, resolved as moto resolves them."""
    from moto.iam.models import get_account_id_from

    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key, region = match.groups() if match else ("", DEFAULT_REGION)
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"], region
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"], region
    return get_account_id_from(access_key), region


class DrsApp:
    """WSGI app with ``control`` (see :mod:`.control`) and ``reset()`` for the endpoint.

    ``clock=None`` means :func:`gauntlet.clock.default_clock` looked up on every request, so a
    test that installs a ``VirtualClock`` shares virtual time with the simulator.
    """

    def __init__(self, clock: Clock | None = None, timing: Timing | None = None,
                 fixture_path: Path = FIXTURE_PATH) -> None:
        self._clock = clock
        self.lock = threading.RLock()
        self.initial_timing = copy.deepcopy(timing or Timing())
        self.backends = DrsBackends(self.clock, copy.deepcopy(self.initial_timing), fixture_path)
        self.control = Control(self)

    def clock(self) -> Clock:
        return self._clock or default_clock()

    def reset(self) -> None:
        """Called on ``POST /moto-api/reset``."""
        self.control.reset()

    def tick(self) -> None:
        """Apply due job transitions in every account and region.

        DRS requests do this for their own account and region. Call it before serving other
        services' requests so that EC2 sees instances launch and terminate on time even when
        nobody asks DRS.
        """
        self.control.tick()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX + "/"):
            return self.control.handle(request)(environ, start_response)
        operation = request.path.strip("/")
        self.control.record_call(operation)
        fault = self.control.take_fault(operation)
        if fault and fault.kind == "timeout":
            return self._drop_connection(environ, start_response)
        response = self._fault_response(fault) if fault else self.dispatch(request, operation)
        return response(environ, start_response)

    def dispatch(self, request: Request, operation: str) -> Response:
        """Run one DRS operation for the request's account and region."""
        if operation not in service_model().operation_names:
            return _error(DrsError(f"Unknown operation {operation!r}", "UnknownOperationException", 404))
        if operation not in OPERATIONS:
            return _error(DrsError(f"Gauntlet's DRS simulator does not implement {operation}",
                                   "NotImplementedException", 501))
        if request.method != "POST":
            return _error(ValidationException(f"{operation} must be called with POST",
                                              reason="unknownOperation"))
        try:
            try:
                params = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                raise ValidationException("The request body is not valid JSON", reason="cannotParse") from None
            validate_input(operation, params)
            account_id, region = request_identity(request.environ)
            with self.lock:
                backend = self.backends.get(account_id, region)
                body = getattr(DrsResponse(backend), OPERATIONS[operation])(params)
        except DrsError as error:
            return _error(error)
        except Exception as error:  # a simulator bug still answers the way DRS would
            log.exception("DRS simulator failed on %s", operation)
            return _error(DrsError(f"DRS simulator error: {type(error).__name__}: {error}"))
        return _json(body, success_status(operation))

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        extra = {"serviceCode": "drs"} if fault.code == "ThrottlingException" else {}
        return _error(DrsError(fault.message, fault.code, fault.status, **extra))

    @staticmethod
    def _drop_connection(environ: dict, start_response: Callable) -> Any:
        """Shut the TCP connection without an answer; without a socket, answer 504 instead."""
        sock = environ.get("werkzeug.socket")
        if sock is None:
            return _error(DrsError("Injected connection drop", "RequestTimeoutException", 504))(
                environ, start_response)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # werkzeug's write now fails with a broken pipe, which it treats as a dropped connection.
        start_response("504 Gateway Timeout", [("Content-Length", "0")])
        return [b""]


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json",
                    headers={"x-amzn-RequestId": str(uuid.uuid4())})


def _error(error: DrsError) -> Response:
    response = _json(error.body(), error.status)
    response.headers["x-amzn-ErrorType"] = error.code
    return response
