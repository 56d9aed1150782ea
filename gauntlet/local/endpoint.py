"""The offline AWS endpoint: moto's server plus Gauntlet's own simulators on one loopback port.

Requests are routed by the service named in their SigV4 credential scope
(``Credential=AKID/20260101/us-east-1/drs/aws4_request``): a service registered here (the DRS
simulator) gets it, everything else goes to moto. Unsigned control calls under
``/gauntlet-api/<service>/`` reach the registered service too. ``POST /moto-api/reset`` resets
moto and every registered service.

Run in a thread (:class:`LoopbackEndpoint`) or as its own process::

    python -m gauntlet.local.endpoint --port 0 --port-file PATH
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from typing import Callable, Dict, Optional

from werkzeug.serving import make_server

from gauntlet.local.serving import BackgroundServer, write_port_file

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

WsgiApp = Callable


class ServiceDispatcher:
    """WSGI app: send each request to the registered service it names, or to moto."""

    def __init__(self, moto_app: WsgiApp, services: Dict[str, WsgiApp]) -> None:
        self.moto_app = moto_app
        self.services = services

    def service_for(self, environ: dict) -> Optional[str]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/gauntlet-api/"):
            name = path.split("/")[2]
            return name if name in self.services else None
        match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match and match.group(1) in self.services:
            return match.group(1)
        return None

    def __call__(self, environ: dict, start_response: Callable):
        # Simulated work progresses on the clock; apply what is due before any service
        # answers, so an EC2 describe sees the instances a DRS job launched meanwhile.
        for service in self.services.values():
            tick = getattr(service, "tick", None)
            if tick:
                tick()
        name = self.service_for(environ)
        if name:
            return self.services[name](environ, start_response)
        if environ.get("PATH_INFO") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            for service in self.services.values():
                reset = getattr(service, "reset", None)
                if reset:
                    reset()
        return self.moto_app(environ, start_response)


def default_services(clock=None) -> Dict[str, WsgiApp]:
    """The simulators that ship with Gauntlet, keyed by SigV4 signing name."""
    services: Dict[str, WsgiApp] = {}
    try:
        from gauntlet.local.drs import create_app as create_drs_app
    except ImportError:  # the DRS simulator is optional for the endpoint
        return services
    services["drs"] = create_drs_app(clock=clock)
    return services


class LoopbackEndpoint:
    """moto + simulators served on 127.0.0.1 in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, services: Optional[Dict] = None):
        if not host.startswith("127."):
            raise ValueError(f"the offline endpoint binds to 127.0.0.0/8 only, not {host}")
        self.host = host
        self.port = port
        self.services = default_services() if services is None else services
        self._serving: Optional[BackgroundServer] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "LoopbackEndpoint":
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        app = ServiceDispatcher(DomainDispatcherApplication(create_backend_app), self.services)
        server = make_server(self.host, self.port, app, threaded=True,
                             request_handler=MotoRequestHandler)
        self._serving = BackgroundServer(server, "gauntlet-endpoint")
        self.port = self._serving.port
        # moto's Step Functions parser calls back into "localhost:$MOTO_PORT".
        os.environ["MOTO_PORT"] = str(self.port)
        return self

    def stop(self) -> None:
        if self._serving:
            self._serving.stop()
        self._serving = None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gauntlet.local.endpoint",
                                     description="Serve moto and Gauntlet's simulators on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once serving")
    args = parser.parse_args(argv)
    endpoint = LoopbackEndpoint(args.host, args.port).start()
    if args.port_file:
        write_port_file(args.port_file, endpoint.port)
    print(f"gauntlet endpoint serving on {endpoint.url}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    endpoint.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
