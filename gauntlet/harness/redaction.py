"""Secret redaction for everything the run writes: console, journal, reports, Allure results.

Two nets: exact values registered at run time (the run's AWS keys, kubeconfig tokens,
passwords read from target files) and patterns for secrets nobody registered (access key ids,
``password=...``, ``token: ...``, bearer tokens, private keys).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Iterable

MASK = "***REDACTED***"

_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    # key = value, key: value, "key": "value" for secret-looking keys
    re.compile(
        r"(?i)((?:aws_)?secret_?access_?key|secretkey|session_?token|sessiontoken|password|passwd|"
        r"client_?secret|api_?key|token)(\"?'?\s*[:=]\s*\"?'?)([^\s\"',}]{4,})"
    ),
]

_SECRET_KEY = re.compile(r"(?i)(secret|password|passwd|token|api_?key|credential|private_?key)")

_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "HCLOUD_TOKEN",
               "DIGITALOCEAN_TOKEN", "AZURE_CLIENT_SECRET", "NOMAD_TOKEN", "GRAFANA_TOKEN")


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._literal: re.Pattern | None = None

    def register(self, *values: str | None) -> None:
        """Treat these exact strings as secrets from now on (short ones are ignored)."""
        with self._lock:
            self._values.update(v for v in values if v and len(v) >= 6)
            ordered = sorted(self._values, key=len, reverse=True)
            self._literal = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def register_environment(self, names: Iterable[str] = _SECRET_ENV) -> None:
        self.register(*(os.environ.get(name) for name in names))

    def text(self, value: str) -> str:
        if not value:
            return value
        literal = self._literal
        if literal is not None:
            value = literal.sub(MASK, value)
        for pattern in _PATTERNS:
            if pattern.groups == 3:
                value = pattern.sub(lambda m: m.group(1) + m.group(2) + MASK, value)
            else:
                value = pattern.sub(MASK, value)
        return value

    def data(self, value: Any) -> Any:
        """Redact every string inside dicts, lists and tuples."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: MASK if _is_secret_field(key, item) else self.data(item)
                    for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value


def _is_secret_field(key: object, value: object) -> bool:
    """A string stored under a secret-looking key ("password", "SessionToken") is a secret."""
    return isinstance(key, str) and isinstance(value, str) and len(value) >= 4 \
        and bool(_SECRET_KEY.search(key))


redactor = Redactor()
"""The process-wide redactor every writer uses."""
