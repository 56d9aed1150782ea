"""etcd adapter: member health, leader, quorum, data and leadership transfer over etcd's HTTP API.

Speaks the v3 JSON gateway of etcd 3.4 (``/health``, ``/v3/maintenance/status``,
``/v3/kv/put``, ``/v3/kv/range``, ``/v3/maintenance/transfer-leadership``; keys and values are
base64 in the JSON) with ``requests``. Every call has a short timeout; health-style calls
(:meth:`EtcdProbe.member_health`, :meth:`~EtcdProbe.leader`, :meth:`~EtcdProbe.has_quorum`,
:meth:`~EtcdProbe.admin_ui`) never raise for an unreachable, stopped or paused member: they report
it. Data calls (:meth:`~EtcdProbe.put`, :meth:`~EtcdProbe.get`) try each member in turn and raise
:class:`EtcdError` when none of them can serve the request (no quorum, say).

Proxy variables are ignored: members are addressed directly.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Mapping, Optional, TypeVar

import requests

from gauntlet.clock import WaitTimeout, wait_until

T = TypeVar("T")
QUORUM_PROBE_KEY = "gauntlet/quorum-probe"


class EtcdError(RuntimeError):
    """No member could serve the request; the message names each member's failure."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode(errors="replace")


class EtcdProbe:
    """One etcd cluster, addressed member by member.

    ``endpoints`` maps node names to client URLs (``{"n11": "http://127.0.0.11:2379", ...}``);
    ``metrics`` optionally maps them to metrics URLs (``--listen-metrics-urls``), used for the
    admin UI check. ``timeout`` bounds each HTTP call (seconds).
    """

    def __init__(self, endpoints: Mapping[str, str], timeout: float = 1.5,
                 metrics: Optional[Mapping[str, str]] = None) -> None:
        self.endpoints = {node: url.rstrip("/") for node, url in endpoints.items()}
        self.metrics = {node: url.rstrip("/") for node, url in (metrics or {}).items()}
        self.timeout = timeout
        self._local = threading.local()

    # -- plumbing -----------------------------------------------------------------------------

    def nodes(self) -> List[str]:
        return list(self.endpoints)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # never through a proxy
            self._local.session = session
        return session

    def _call(self, node: str, path: str, body: Optional[dict] = None,
              timeout: Optional[float] = None) -> dict:
        """POST ``body`` (GET when None) to one member; raise on transport or etcd errors."""
        url = self.endpoints[node] + path
        timeout = timeout or self.timeout
        if body is None:
            response = self._session().get(url, timeout=timeout)
        else:
            response = self._session().post(url, json=body, timeout=timeout)
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": response.text[:200]}
        if response.status_code != 200 or "error" in payload:
            message = payload.get("message") or payload.get("error") or response.reason
            raise EtcdError(f"{node}: HTTP {response.status_code}: {message}")
        return payload

    def _each(self, call: Callable[[str], T]) -> Dict[str, object]:
        """``call(node)`` for every member at once: node -> result, or the exception raised."""
        def guarded(node):
            try:
                return call(node)
            except Exception as error:  # noqa: BLE001 - reported per member
                return error

        with ThreadPoolExecutor(max_workers=max(len(self.endpoints), 1)) as pool:
            results = list(pool.map(guarded, self.endpoints))
        return dict(zip(self.endpoints, results, strict=True))

    def _first(self, call: Callable[[str], T], what: str, order: Optional[List[str]] = None) -> T:
        failures = []
        for node in order or self.nodes():
            try:
                return call(node)
            except (requests.RequestException, EtcdError) as error:
                failures.append(f"{node}: {type(error).__name__}: {error}")
        raise EtcdError(f"{what} failed on every member: " + "; ".join(failures))

    # -- probes (never raise for a member that is down) ----------------------------------------

    def health(self, node: str) -> bool:
        """The member answers ``/health`` with ``"health": "true"`` (it sees a leader and can
        serve a linearizable read)."""
        try:
            response = self._session().get(self.endpoints[node] + "/health", timeout=self.timeout)
            return response.status_code == 200 and response.json().get("health") == "true"
        except (requests.RequestException, ValueError):
            return False

    def member_health(self) -> Dict[str, bool]:
        """``{node: healthy}`` for every member, probed in parallel."""
        return {node: result is True for node, result in self._each(self.health).items()}

    def status(self) -> Dict[str, Optional[dict]]:
        """``{node: maintenance status}`` (``None`` for a member that does not answer)."""
        results = self._each(lambda node: self._call(node, "/v3/maintenance/status", {}))
        return {node: (None if isinstance(result, Exception) else result)
                for node, result in results.items()}

    def member_id(self, node: str) -> str:
        return self._call(node, "/v3/maintenance/status", {})["header"]["member_id"]

    def leader(self) -> Optional[str]:
        """The node that is leader by its own account, or None (no leader, or it is down)."""
        claims = []
        for node, status in self.status().items():
            if status and status.get("leader") and \
                    status["leader"] == status.get("header", {}).get("member_id"):
                claims.append((int(status.get("raftTerm") or 0), node))
        return max(claims)[1] if claims else None

    def has_quorum(self) -> bool:
        """Some member serves a linearizable read, i.e. a majority is up and agrees."""
        body = {"key": _b64(QUORUM_PROBE_KEY), "count_only": True}
        results = self._each(lambda node: self._call(node, "/v3/kv/range", body))
        return any(not isinstance(result, Exception) for result in results.values())

    def admin_ui(self, node: str) -> bool:
        """The member's HTTP endpoint answers (``GET /health`` on the metrics URL if known, else
        the client URL) with its health document, healthy or not."""
        base = self.metrics.get(node) or self.endpoints[node]
        try:
            response = self._session().get(base + "/health", timeout=self.timeout)
            return response.status_code in (200, 503) and "health" in response.json()
        except (requests.RequestException, ValueError):
            return False

    def summary(self) -> dict:
        """Health counts, quorum and leader in one call (for checks and diagnostics)."""
        health = self.member_health()
        healthy = sum(health.values())
        return {"members": len(health), "healthy": healthy, "health": health,
                "quorum": healthy > 0 or self.has_quorum(),
                "leader": self.leader()}

    # -- data -----------------------------------------------------------------------------------

    def put(self, key: str, value: str, node: Optional[str] = None) -> int:
        """Write ``key``; returns the new revision. Tries each member (or only ``node``)."""
        body = {"key": _b64(key), "value": _b64(value)}
        payload = self._first(lambda n: self._call(n, "/v3/kv/put", body), f"put {key!r}",
                              [node] if node else None)
        return int(payload["header"]["revision"])

    def get(self, key: str, node: Optional[str] = None, serializable: bool = False) -> Optional[str]:
        """Read ``key`` (None when absent). Linearizable unless ``serializable`` (which a lone
        member without quorum still answers from its own copy)."""
        body = {"key": _b64(key), "serializable": serializable}
        payload = self._first(lambda n: self._call(n, "/v3/kv/range", body), f"get {key!r}",
                              [node] if node else None)
        kvs = payload.get("kvs") or []
        return _unb64(kvs[0].get("value", "")) if kvs else None

    def delete(self, key: str) -> int:
        """Delete ``key``; returns how many keys were deleted."""
        payload = self._first(lambda n: self._call(n, "/v3/kv/deleterange", {"key": _b64(key)}),
                              f"delete {key!r}")
        return int(payload.get("deleted") or 0)

    # -- actions --------------------------------------------------------------------------------

    def move_leader(self, to_node: str, timeout: float = 10.0) -> str:
        """Transfer leadership to ``to_node`` (a switchover) and wait until it leads.

        Raises :class:`EtcdError` when there is no leader or the transfer does not complete.
        """
        leader = self.leader()
        if leader is None:
            raise EtcdError("move_leader: the cluster has no leader")
        if leader == to_node:
            return to_node
        target = self.member_id(to_node)
        self._call(leader, "/v3/maintenance/transfer-leadership", {"targetID": target},
                   timeout=max(self.timeout, 5.0))
        try:
            wait_until(lambda: self.leader() == to_node, timeout, interval=0.05,
                       description=f"{to_node} to lead")
        except WaitTimeout as error:
            raise EtcdError(f"move_leader to {to_node}: {error}") from error
        return to_node
