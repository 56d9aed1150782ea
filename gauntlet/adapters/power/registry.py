"""Build the power control for a provider, and the machinery the API providers share.

``power_for("hetzner", token=..., node_ids={"n11": 101, ...}, ssh={...})`` imports the
provider's module (and so its SDK) only when asked, builds the SDK client from the settings
unless one is passed as ``client=``, and returns a :class:`PowerControl`.

:class:`ApiPowerControl` is the one implementation of the workflow operations over five
provider hooks (read a node's state; request stop, start, power cut, resume). It consults the
capability matrix (``matrix.py``) before every operation, waits for every change through
:func:`gauntlet.clock.wait_until` (never a sleep), and sends ``method: ssh`` to
``gauntlet.adapters.power.ssh``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple, Union

from gauntlet.adapters.power import matrix
from gauntlet.adapters.power.base import NODE_STATES, PowerControl, unsupported
from gauntlet.clock import Clock, WaitTimeout, real_clock, wait_until

PROVIDER_MODULES = {
    "aws": "gauntlet.adapters.power.aws",
    "azure": "gauntlet.adapters.power.azure",
    "gcp": "gauntlet.adapters.power.gcp",
    "digitalocean": "gauntlet.adapters.power.digitalocean",
    "hetzner": "gauntlet.adapters.power.hetzner",
    "libvirt": "gauntlet.adapters.power.libvirt",
    "local": "gauntlet.adapters.power.local",
}

SSH_MODULE = "gauntlet.adapters.power.ssh"


class Pending(Protocol):
    """A provider operation in flight (Azure LROPoller, GCP ExtendedOperation, an action)."""

    def done(self) -> bool: ...

    def result(self) -> Any: ...


@dataclass(frozen=True)
class SshAccess:
    """How to reach each node over SSH for ``method: ssh``.

    ``hosts`` maps node name -> ``"host"``, ``"host:port"`` or ``(host, port)``; ``port`` is the
    default port.
    """

    hosts: Mapping[str, Union[str, Tuple[str, int]]]
    user: str
    key_file: str
    port: int = 22

    @classmethod
    def coerce(cls, value: Union[None, "SshAccess", Mapping[str, Any]]) -> Optional["SshAccess"]:
        if value is None or isinstance(value, SshAccess):
            return value
        return cls(**dict(value))

    def address(self, node: str) -> Tuple[str, int]:
        """(host, port) of ``node``; ValueError if the node has no host."""
        if node not in self.hosts:
            raise ValueError(f"no SSH host configured for node {node!r} "
                             f"(configured: {', '.join(sorted(self.hosts)) or 'none'})")
        host = self.hosts[node]
        if isinstance(host, (tuple, list)):
            return str(host[0]), int(host[1])
        name, sep, port = str(host).rpartition(":")
        if sep and port.isdigit() and ":" not in name:
            return name, int(port)
        return str(host), self.port


def operation_label(operation: str) -> str:
    """``"crash_node:destroy"`` -> ``'crash_node (method: "destroy")'`` for messages."""
    step, _, method = operation.partition(":")
    return f'{step} (method: "{method}")' if method else step


class ApiPowerControl(PowerControl):
    """Power operations through a provider API; subclasses supply the hooks below.

    ``node_ids`` maps node name -> provider id, in cluster order. ``timeout`` bounds each wait
    for a provider operation and the state it leads to; ``interval`` is the poll period;
    ``stop_grace`` is how long a clean shutdown may take before a provider whose shutdown is
    only a request to the guest (``hard_stop_fallback``) cuts the power.
    """

    provider = "abstract"
    hard_stop_fallback = False
    connection_settings: Tuple[str, ...] = ()

    def __init__(self, client: Any, node_ids: Mapping[str, Any], *,
                 ssh: Union[None, SshAccess, Mapping[str, Any]] = None, clock: Optional[Clock] = None,
                 timeout: float = 600.0, interval: float = 5.0, stop_grace: float = 120.0) -> None:
        if not node_ids:
            raise ValueError(f"{self.provider}: node_ids must map at least one node to its id")
        self.client = client
        self.node_ids: Dict[str, Any] = dict(node_ids)
        self.ssh = SshAccess.coerce(ssh)
        self._clock = clock
        self.timeout = timeout
        self.interval = interval
        self.stop_grace = stop_grace

    # -- construction from settings -------------------------------------------------------

    @classmethod
    def connect(cls, **connection: Any) -> Any:
        """Build the provider's SDK client from ``connection_settings`` (imports the SDK)."""
        raise NotImplementedError(f"{cls.provider}: pass client=")

    @classmethod
    def from_settings(cls, *, client: Any = None, **settings: Any) -> "ApiPowerControl":
        """``client=`` or the provider's connection settings, plus the constructor's own."""
        connection = {key: settings.pop(key) for key in cls.connection_settings if key in settings}
        if client is None:
            client = cls.connect(**connection)
        elif connection:
            raise ValueError(f"{cls.provider}: pass client= or {', '.join(connection)}, not both")
        return cls(client, **settings)

    # -- provider hooks ---------------------------------------------------------------------

    def _read_state(self, pid: Any) -> str:
        """The node's state as one of NODE_STATES."""
        raise NotImplementedError

    def _request_stop(self, pid: Any) -> Optional[Pending]:
        """Ask for a clean power-off."""
        raise NotImplementedError

    def _request_start(self, pid: Any) -> Optional[Pending]:
        raise NotImplementedError

    def _request_power_cut(self, pid: Any) -> Optional[Pending]:
        """Power off at once, without a guest shutdown."""
        raise NotImplementedError

    def _request_resume(self, pid: Any) -> Optional[Pending]:
        """Start a paused (suspended) node; by default the same as a start."""
        return self._request_start(pid)

    def _check_operation(self, operation: str, node: str, pid: Any, action: str) -> None:
        """Raise before touching a node the operation cannot be done on (default: none)."""

    # -- PowerControl -----------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock waits run on: ``clock=`` if given, else real time (these are real machines,
        even while an offline simulation has made a virtual clock the default)."""
        return self._clock or real_clock

    def nodes(self) -> List[str]:
        return list(self.node_ids)

    def provider_id(self, node: str) -> Any:
        """The provider's id of ``node``; ValueError naming the known nodes if there is none."""
        try:
            return self.node_ids[node]
        except KeyError:
            raise ValueError(f"{self.provider}: unknown node {node!r} "
                             f"(known: {', '.join(self.node_ids)})") from None

    def describe(self, node: str) -> str:
        return f"node {node} ({self.provider_id(node)})"

    def node_state(self, node: str) -> str:
        state = self._read_state(self.provider_id(node))
        return state if state in NODE_STATES else "unknown"

    def stop_node(self, node: str) -> None:
        """Clean power-off through the API; returns once the provider reports it stopped."""
        self._power("stop_node", [node], "stop")

    def start_node(self, node: str) -> None:
        """Power on through the API; returns once the provider reports it running."""
        self._power("start_node", [node], "start")

    def stop_cluster(self) -> None:
        """Stop every node: all requests first, then wait for each."""
        self._power("stop_cluster", self.nodes(), "stop")

    def start_cluster(self) -> None:
        self._power("start_cluster", self.nodes(), "start")

    def restart_node(self, node: str, method: str = "ssh") -> None:
        """``ssh``: ``sudo reboot`` over SSH. ``graceful``: power cycle, stop then start, via API."""
        operation = matrix.operation_key("restart_node", method)
        self._require(operation)
        if method == "ssh":
            self._ssh(operation, node)
            return
        self._power(operation, [node], "stop")
        self._power(operation, [node], "start")

    def crash_node(self, node: str, method: str = "ssh") -> None:
        """``ssh``: SysRq trigger, else ``poweroff -f``. ``destroy``: hard power-off via API."""
        operation = matrix.operation_key("crash_node", method)
        self._require(operation)
        if method == "ssh":
            self._ssh(operation, node)
            return
        self._power(operation, [node], "cut")

    # -- shared machinery -------------------------------------------------------------------

    def _require(self, operation: str) -> None:
        if matrix.gauntlet_cell(self.provider, operation) == "unsupported":
            raise unsupported(self.provider, operation_label(operation))

    def _ssh(self, operation: str, node: str) -> None:
        self.provider_id(node)  # an unknown node fails the same way for every method
        if self.ssh is None:
            raise ValueError(f"{self.provider}: {operation_label(operation)} on {node} needs SSH "
                             "access: pass ssh=SshAccess(hosts={node: host}, user=..., key_file=...)")
        host, port = self.ssh.address(node)
        ssh_methods = importlib.import_module(SSH_MODULE)
        action: Callable[..., Any] = (ssh_methods.ssh_restart if operation.startswith("restart")
                                      else ssh_methods.ssh_crash)
        action(host, port, self.ssh.user, self.ssh.key_file)

    def _power(self, operation: str, nodes: List[str], action: str) -> None:
        """Request ``action`` (stop | start | cut) on every node, then wait for each."""
        self._require(operation)
        target = "running" if action == "start" else "stopped"
        issued = []
        for node in nodes:
            pid = self.provider_id(node)
            self._check_operation(operation, node, pid, action)
            state = self.node_state(node)
            if state == target:
                continue
            if action == "start":
                pending = self._request_resume(pid) if state == "paused" else self._request_start(pid)
            elif action == "stop":
                pending = self._request_stop(pid)
            else:
                pending = self._request_power_cut(pid)
            issued.append((node, pid, pending))
        for node, pid, pending in issued:
            if action == "stop" and self.hard_stop_fallback:
                try:
                    self._settle(operation, node, pending, target, self.stop_grace, "clean shutdown")
                    continue
                except Exception:  # noqa: BLE001 - not off in time, or the shutdown request failed:
                    pending = self._request_power_cut(pid)  # either way, cut the power
            self._settle(operation, node, pending, target, self.timeout, action)

    def _settle(self, operation: str, node: str, pending: Optional[Pending], target: str,
                timeout: float, what: str) -> None:
        """Wait for the provider's operation to finish, then for the node to reach ``target``."""
        label = f"{self.provider} {operation_label(operation)} ({what}) on {self.describe(node)}"
        deadline = self.clock.now() + timeout
        if pending is not None:
            wait_until(pending.done, timeout, self.interval, clock=self.clock,
                       description=f"{label}: the provider's operation to finish")
            pending.result()  # raises the provider's error if the operation failed
        seen: List[str] = []

        def reached() -> bool:
            seen.append(self.node_state(node))
            return seen[-1] == target

        remaining = max(deadline - self.clock.now(), 0.0)
        try:
            wait_until(reached, remaining, self.interval, clock=self.clock,
                       description=f"{label} to be {target}")
        except WaitTimeout as error:
            raise WaitTimeout(f"{label} to be {target}", timeout, error.attempts,
                              f"state {seen[-1]!r}" if seen else error.last) from error


def power_class(provider: str) -> type:
    """The PowerControl subclass for ``provider`` (imports its module, not yet its SDK)."""
    name = provider.lower()
    if name not in PROVIDER_MODULES:
        raise ValueError(f"unknown power provider {provider!r}; known: {', '.join(PROVIDER_MODULES)}")
    module = importlib.import_module(PROVIDER_MODULES[name])
    for value in vars(module).values():
        if (inspect.isclass(value) and issubclass(value, PowerControl)
                and not inspect.isabstract(value) and getattr(value, "provider", None) == name):
            return value
    raise ImportError(f"{PROVIDER_MODULES[name]} defines no PowerControl with provider = {name!r}")


def power_for(provider: str, **settings: Any) -> PowerControl:
    """The power control for ``provider``, built from ``settings``.

    API providers take ``client=`` (an SDK client) or their connection settings (aws: region,
    profile, endpoint_url; azure: subscription_id, credential; gcp: credentials; hetzner and
    digitalocean: token; libvirt: uri), ``node_ids`` (node name -> provider id), ``ssh``
    (:class:`SshAccess` or a dict of its fields) and the provider's own (azure:
    resource_group, deallocate; gcp: project, zone), plus ``clock``, ``timeout``, ``interval``
    and ``stop_grace``. ``local`` takes what ``LocalPower`` takes (``cluster=``, ``clock=``).
    Raises ValueError for an unknown provider.
    """
    cls = power_class(provider)
    factory = getattr(cls, "from_settings", None)
    return factory(**settings) if factory else cls(**settings)
