"""Serving on loopback in a background thread, and telling a parent process the port."""

from __future__ import annotations

import os
import threading
from typing import Optional


class BackgroundServer:
    """Run a ``socketserver``-style server's ``serve_forever`` in a daemon thread."""

    def __init__(self, server, name: str, poll_interval: float = 0.05) -> None:
        self.server = server
        self.port = server.server_address[1]
        # A short poll interval makes stop() prompt (shutdown waits for the next poll).
        self._thread: Optional[threading.Thread] = threading.Thread(
            target=server.serve_forever, args=(poll_interval,), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._thread = None


def write_port_file(path: str, port: int) -> None:
    """Write atomically, so a reader polling for the file never sees a half-written port."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        handle.write(str(port))
    os.replace(tmp, path)
