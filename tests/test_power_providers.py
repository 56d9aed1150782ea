"""Power control per provider, against real SDK objects and nothing outside 127.0.0.0/8.

- aws: a real moto endpoint on 127.0.0.1 (conftest ``endpoint``); instance states really change.
- libvirt: libvirt's own ``test:///default`` driver through real libvirt-python.
- azure, gcp, hetzner, digitalocean: the real SDK clients, their operation objects replaced by
  ``create_autospec`` fakes of the SDK classes (so every call must match the real signature),
  driving a small state model; the exact SDK calls are asserted.

The network guard is on for the whole module, and each test checks it refused nothing. The SSH
methods go to a recording stand-in for ``gauntlet.adapters.power.ssh``. Waits run on a
VirtualClock, so timeouts cost no real time.
"""

from __future__ import annotations

import itertools
import sys
import types
import uuid
from unittest.mock import Mock, call, create_autospec

import pytest

from gauntlet.adapters.power import matrix
from gauntlet.adapters.power.registry import SshAccess, power_for
from gauntlet.clock import VirtualClock, WaitTimeout
from gauntlet.local import network_guard

NODES = ("n11", "n12", "n13")
KEY_FILE = "/nonexistent/gauntlet-test-key"
SSH = {"hosts": {"n11": "127.0.0.11", "n12": "127.0.0.12:2222", "n13": ("127.0.0.13", 2223)},
       "user": "gauntlet", "key_file": KEY_FILE}
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LIBVIRT_REASON = ("libvirt-python is not installed (apt-get install -y libvirt-dev pkg-config; "
                  "pip install libvirt-python)")


@pytest.fixture(scope="module", autouse=True)
def guard():
    """Second net: the SDK fakes must intercept before any connection; moto is on loopback."""
    already = network_guard.installed()
    network_guard.install()
    try:
        yield
    finally:
        if not already:
            network_guard.uninstall()


@pytest.fixture(autouse=True)
def nothing_left_the_machine(guard):
    before = len(network_guard.blocked_attempts())
    yield
    assert network_guard.blocked_attempts()[before:] == []


@pytest.fixture
def ssh_calls(monkeypatch):
    """A recording stand-in for gauntlet.adapters.power.ssh (the real one dials out)."""
    calls = []
    fake = types.ModuleType("gauntlet.adapters.power.ssh")
    fake.ssh_restart = lambda host, port, user, key_file: calls.append(("restart", host, port, user, key_file))
    fake.ssh_crash = lambda host, port, user, key_file: calls.append(("crash", host, port, user, key_file))
    monkeypatch.setitem(sys.modules, "gauntlet.adapters.power.ssh", fake)
    return calls


def _poll_then(final_step):
    """A done() that answers False once, then applies ``final_step`` and answers True."""
    answers = iter([False])

    def done(*_args, **_kwargs):
        if next(answers, True):
            final_step()
            return True
        return False
    return done


class NoTokenCredential:
    """An Azure credential that refuses to be used: no call may reach the transport."""

    def get_token(self, *scopes, **kwargs):
        raise AssertionError("an Azure token was requested: a call got past the fakes")


# --- rigs: one provider, three nodes, a truth the test reads independently of the adapter --

class AwsRig:
    provider = "aws"
    _image = None

    def __init__(self, **options):
        import boto3

        self.ec2 = boto3.client("ec2")
        if AwsRig._image is None:
            AwsRig._image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        launched = self.ec2.run_instances(
            ImageId=AwsRig._image, MinCount=3, MaxCount=3, InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": "gauntlet:run-id", "Value": "test-power"}]}])
        self.ids = dict(zip(NODES, (i["InstanceId"] for i in launched["Instances"]), strict=True))
        self.calls = []
        client = boto3.client("ec2")
        client.meta.events.register("before-parameter-build.ec2", self._record)
        options.setdefault("interval", 0.01)
        self.power = power_for("aws", client=client, node_ids=self.ids, clock=VirtualClock(), **options)

    def _record(self, params, model, **_kwargs):
        self.calls.append((model.name, dict(params)))

    def mutations(self):
        return [c for c in self.calls if c[0] != "DescribeInstances"]

    def truth(self, node):
        reservations = self.ec2.describe_instances(InstanceIds=[self.ids[node]])["Reservations"]
        return {"running": "running", "stopped": "stopped"}.get(
            reservations[0]["Instances"][0]["State"]["Name"], "other")

    def put(self, node, state):
        if state == "stopped":
            self.ec2.stop_instances(InstanceIds=[self.ids[node]])
        else:
            self.ec2.start_instances(InstanceIds=[self.ids[node]])

    def close(self):
        self.ec2.terminate_instances(InstanceIds=list(self.ids.values()))


class RecordingDomain:
    """A real libvirt domain whose power calls are logged (and shutdown optionally ignored)."""

    def __init__(self, domain, log, ignore_shutdown):
        self._domain, self._log, self._ignore = domain, log, ignore_shutdown

    def __getattr__(self, name):
        attribute = getattr(self._domain, name)
        if name not in ("shutdown", "create", "destroy", "resume"):
            return attribute

        def logged(*args):
            self._log.append((name, self._domain.name()))
            if name == "shutdown" and self._ignore:
                return 0  # the guest ignores the ACPI request
            return attribute(*args)
        return logged


class RecordingConnection:
    def __init__(self, connection, log, ignore_shutdown=False):
        self._connection, self._log, self._ignore = connection, log, ignore_shutdown

    def lookupByName(self, name):  # noqa: N802 - libvirt's name
        return RecordingDomain(self._connection.lookupByName(name), self._log, self._ignore)


def _domain_xml(name):
    return (f"<domain type='test'><name>{name}</name><memory>8192</memory>"
            "<os><type>hvm</type></os></domain>")


class LibvirtRig:
    provider = "libvirt"

    def __init__(self, ignore_shutdown=False, transient=False, **options):
        libvirt = pytest.importorskip("libvirt", reason=LIBVIRT_REASON)
        self.libvirt = libvirt
        self.connection = libvirt.open("test:///default")
        tag = uuid.uuid4().hex[:8]
        self.ids = {node: f"gauntlet-{tag}-{node}" for node in NODES}
        for name in self.ids.values():
            if transient:
                self.connection.createXML(_domain_xml(name), 0)
            else:
                self.connection.defineXML(_domain_xml(name)).create()
        self.calls = []
        client = RecordingConnection(self.connection, self.calls, ignore_shutdown)
        self.power = power_for("libvirt", client=client, node_ids=self.ids, clock=VirtualClock(), **options)

    def mutations(self):
        return list(self.calls)

    def domain(self, node):
        return self.connection.lookupByName(self.ids[node])

    def truth(self, node):
        state = self.domain(node).state()[0]
        return {self.libvirt.VIR_DOMAIN_RUNNING: "running", self.libvirt.VIR_DOMAIN_SHUTOFF: "stopped",
                self.libvirt.VIR_DOMAIN_PAUSED: "paused"}.get(state, "other")

    def put(self, node, state):
        domain = self.domain(node)
        if state == "stopped":
            domain.destroy()
        elif state == "paused":
            domain.suspend()
        else:
            domain.create()

    def close(self):
        for name in self.ids.values():
            try:
                domain = self.connection.lookupByName(name)
            except self.libvirt.libvirtError:
                continue  # a transient domain that was powered off is gone already
            persistent = domain.isPersistent()
            if domain.isActive():
                domain.destroy()
            if persistent:
                domain.undefine()
        self.connection.close()


class AzureRig:
    provider = "azure"
    group = "rg-gauntlet"
    truths = {"running": "running", "stopped": "stopped", "deallocated": "stopped"}

    def __init__(self, ignore_shutdown=False, **options):
        from azure.core.polling import LROPoller
        from azure.mgmt.compute import ComputeManagementClient, models
        from azure.mgmt.compute.operations import VirtualMachinesOperations

        self.models, self.poller_class = models, LROPoller
        self.power_state = {f"vm-{node}": "running" for node in NODES}
        client = ComputeManagementClient(NoTokenCredential(), SUBSCRIPTION)
        vms = create_autospec(VirtualMachinesOperations, instance=True)
        vms.instance_view.side_effect = self._instance_view
        vms.begin_power_off.side_effect = lambda group, vm, **kw: self._poller(vm, "stopping", "stopped")
        vms.begin_deallocate.side_effect = lambda group, vm, **kw: self._poller(
            vm, "deallocating", "deallocated")
        vms.begin_start.side_effect = lambda group, vm, **kw: self._poller(vm, "starting", "running")
        client.virtual_machines = vms
        self.calls = vms
        self.ids = {node: f"vm-{node}" for node in NODES}
        self.power = power_for("azure", client=client, resource_group=self.group, node_ids=self.ids,
                               clock=VirtualClock(), **options)

    def _instance_view(self, group, vm, **_kwargs):
        return self.models.VirtualMachineInstanceView(statuses=[
            self.models.InstanceViewStatus(code="ProvisioningState/succeeded"),
            self.models.InstanceViewStatus(code=f"PowerState/{self.power_state[vm]}")])

    def _poller(self, vm, transitional, final):
        self.power_state[vm] = transitional
        poller = create_autospec(self.poller_class, instance=True)
        poller.done.side_effect = _poll_then(lambda: self.power_state.__setitem__(vm, final))
        poller.result.return_value = None
        return poller

    def mutations(self):
        return [c for c in self.calls.mock_calls if c[0] != "instance_view"]

    def truth(self, node):
        return self.truths.get(self.power_state[self.ids[node]], "other")

    def put(self, node, state):
        self.power_state[self.ids[node]] = state

    def close(self):
        pass


class GcpRig:
    provider = "gcp"
    project, zone = "gauntlet-project", "europe-west1-b"
    truths = {"RUNNING": "running", "TERMINATED": "stopped", "SUSPENDED": "paused"}

    def __init__(self, ignore_shutdown=False, **options):
        from google.api_core.extended_operation import ExtendedOperation
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import compute_v1

        self.compute_v1, self.operation_class = compute_v1, ExtendedOperation
        self.status = {f"inst-{node}": "RUNNING" for node in NODES}
        client = compute_v1.InstancesClient(credentials=AnonymousCredentials())
        self.calls = Mock()
        for name, effect in (("get", self._get), ("stop", self._stop), ("start", self._start),
                             ("resume", self._resume)):
            fake = create_autospec(getattr(client, name), side_effect=effect)
            setattr(client, name, fake)
            self.calls.attach_mock(fake, name)
        self.ids = {node: f"inst-{node}" for node in NODES}
        self.power = power_for("gcp", client=client, project=self.project, zone=self.zone,
                               node_ids=self.ids, clock=VirtualClock(), **options)

    @staticmethod
    def _name(request, instance):
        return instance or request["instance"]

    def _get(self, request=None, *, instance=None, **_kwargs):
        name = self._name(request, instance)
        return self.compute_v1.Instance(name=name, status=self.status[name])

    def _operation(self, name, transitional, final):
        self.status[name] = transitional
        operation = create_autospec(self.operation_class, instance=True)
        operation.done.side_effect = _poll_then(lambda: self.status.__setitem__(name, final))
        operation.result.return_value = None
        return operation

    def _stop(self, request=None, *, instance=None, **_kwargs):
        return self._operation(self._name(request, instance), "STOPPING", "TERMINATED")

    def _start(self, request=None, *, instance=None, **_kwargs):
        return self._operation(self._name(request, instance), "STAGING", "RUNNING")

    def _resume(self, request=None, *, instance=None, **_kwargs):
        return self._operation(self._name(request, instance), "STAGING", "RUNNING")

    def mutations(self):
        return [c for c in self.calls.mock_calls if c[0] != "get"]

    def truth(self, node):
        return self.truths.get(self.status[self.ids[node]], "other")

    def put(self, node, state):
        self.status[self.ids[node]] = {"running": "RUNNING", "stopped": "TERMINATED",
                                       "paused": "SUSPENDED"}[state]

    def close(self):
        pass


class HetznerRig:
    provider = "hetzner"
    truths = {"running": "running", "off": "stopped"}

    def __init__(self, ignore_shutdown=False, fail_actions=False, **options):
        import hcloud
        from hcloud.actions import ActionsClient, BoundAction
        from hcloud.servers import BoundServer, ServersClient

        self.bound_action, self.bound_server = BoundAction, BoundServer
        self.ignore_shutdown, self.fail_actions = ignore_shutdown, fail_actions
        self.ids = {node: 101 + i for i, node in enumerate(NODES)}
        self.status = {sid: "running" for sid in self.ids.values()}
        self.pending = {}
        self.action_ids = itertools.count(9001)
        client = hcloud.Client(token="gauntlet-fake-token")
        servers = create_autospec(ServersClient, instance=True)
        actions = create_autospec(ActionsClient, instance=True)
        servers.get_by_id.side_effect = lambda id: BoundServer(servers, {"id": id, "status": self.status[id]})
        servers.shutdown.side_effect = lambda server: self._act(server.id, "shutdown_server", "stopping", "off")
        servers.power_off.side_effect = lambda server: self._act(server.id, "stop_server", "stopping", "off")
        servers.power_on.side_effect = lambda server: self._act(server.id, "start_server", "starting", "running")
        actions.get_by_id.side_effect = self._get_action
        client.servers, client.actions = servers, actions
        self.servers, self.actions = servers, actions
        self.power = power_for("hetzner", client=client, node_ids=self.ids, clock=VirtualClock(), **options)

    def _act(self, server_id, command, transitional, final):
        action_id = next(self.action_ids)
        before = self.status[server_id]
        self.status[server_id] = transitional
        if command == "shutdown_server" and self.ignore_shutdown:
            final = before
        self.pending[action_id] = (server_id, command, final)
        return self.bound_action(self.actions, {"id": action_id, "command": command, "status": "running"})

    def _get_action(self, id):
        server_id, command, final = self.pending[id]
        if self.fail_actions:
            return self.bound_action(self.actions, {
                "id": id, "command": command, "status": "error",
                "error": {"code": "action_failed", "message": "server is locked"}})
        self.status[server_id] = final
        return self.bound_action(self.actions, {"id": id, "command": command, "status": "success"})

    def mutations(self):
        return [c for c in self.servers.mock_calls if c[0] != "get_by_id"]

    def truth(self, node):
        return self.truths.get(self.status[self.ids[node]], "other")

    def put(self, node, state):
        self.status[self.ids[node]] = {"running": "running", "stopped": "off"}[state]

    def close(self):
        pass


class DigitalOceanRig:
    provider = "digitalocean"
    truths = {"active": "running", "off": "stopped"}
    finals = {"shutdown": "off", "power_off": "off", "power_on": "active"}

    def __init__(self, ignore_shutdown=False, fail_actions=False, **options):
        import pydo
        from pydo.operations import ActionsOperations, DropletActionsOperations, DropletsOperations

        self.ignore_shutdown, self.fail_actions = ignore_shutdown, fail_actions
        self.ids = {node: 5001 + i for i, node in enumerate(NODES)}
        self.status = {did: "active" for did in self.ids.values()}
        self.pending = {}
        self.action_ids = itertools.count(7001)
        client = pydo.Client(token="gauntlet-fake-token")
        client.droplets = create_autospec(DropletsOperations, instance=True)
        client.droplet_actions = create_autospec(DropletActionsOperations, instance=True)
        client.actions = create_autospec(ActionsOperations, instance=True)
        client.droplets.get.side_effect = lambda droplet_id, **kw: {
            "droplet": {"id": droplet_id, "status": self.status[droplet_id]}}
        client.droplet_actions.post.side_effect = self._post
        client.actions.get.side_effect = self._get_action
        self.calls = client.droplet_actions
        self.power = power_for("digitalocean", client=client, node_ids=self.ids, clock=VirtualClock(),
                               **options)

    def _post(self, droplet_id, body=None, **_kwargs):
        action_id = next(self.action_ids)
        final = self.finals[body["type"]]
        if body["type"] == "shutdown" and self.ignore_shutdown:
            final = self.status[droplet_id]
        self.pending[action_id] = (droplet_id, body["type"], final)
        return {"action": {"id": action_id, "status": "in-progress", "type": body["type"],
                           "resource_id": droplet_id, "resource_type": "droplet"}}

    def _get_action(self, action_id, **_kwargs):
        droplet_id, kind, final = self.pending[action_id]
        status = "errored" if self.fail_actions else "completed"
        if not self.fail_actions:
            self.status[droplet_id] = final
        return {"action": {"id": action_id, "status": status, "type": kind, "resource_id": droplet_id}}

    def mutations(self):
        return list(self.calls.mock_calls)

    def truth(self, node):
        return self.truths.get(self.status[self.ids[node]], "other")

    def put(self, node, state):
        self.status[self.ids[node]] = {"running": "active", "stopped": "off"}[state]

    def close(self):
        pass


RIGS = {"aws": AwsRig, "azure": AzureRig, "gcp": GcpRig, "hetzner": HetznerRig,
        "digitalocean": DigitalOceanRig, "libvirt": LibvirtRig}


@pytest.fixture
def make_rig(request):
    made = []

    def make(provider, **options):
        if provider == "aws":
            request.getfixturevalue("endpoint")  # the shared moto endpoint, started on first use
        options.setdefault("ssh", SSH)
        rig = RIGS[provider](**options)
        made.append(rig)
        return rig
    yield make
    for rig in made:
        rig.close()


def run(power, operation, node="n11"):
    step, _, method = operation.partition(":")
    action = getattr(power, step)
    if step.endswith("_cluster"):
        return action()
    return action(node, method=method) if method else action(node)


def ssh_address(node):
    return SshAccess(**SSH).address(node)


# --- the matrix's Gauntlet column is what the classes do ----------------------------------

@pytest.mark.parametrize("operation", matrix.OPERATIONS)
@pytest.mark.parametrize("provider", matrix.PROVIDERS)
def test_gauntlet_column_matches_behaviour(make_rig, ssh_calls, provider, operation):
    rig = make_rig(provider)
    how = matrix.gauntlet_cell(provider, operation)
    if operation.startswith("start"):
        for node in NODES if operation == "start_cluster" else ("n11",):
            rig.put(node, "stopped")
    before = {node: rig.truth(node) for node in NODES}

    if how == "unsupported":
        with pytest.raises(NotImplementedError) as raised:
            run(rig.power, operation)
        message = str(raised.value)
        assert provider in message and operation.split(":")[0] in message and "ssh" in message.lower()
        assert {node: rig.truth(node) for node in NODES} == before
        return

    run(rig.power, operation)
    after = {node: rig.truth(node) for node in NODES}
    if how == "ssh":
        host, port = ssh_address("n11")
        verb = "restart" if operation.startswith("restart") else "crash"
        assert ssh_calls == [(verb, host, port, "gauntlet", KEY_FILE)]
        assert rig.mutations() == [] and after == before
        return
    assert how == "api" and ssh_calls == []
    expected = dict(before)
    if operation == "stop_cluster":
        expected = dict.fromkeys(NODES, "stopped")
    elif operation == "start_cluster":
        expected = dict.fromkeys(NODES, "running")
    elif operation in ("stop_node", "crash_node:destroy"):
        expected["n11"] = "stopped"
    else:  # start_node, restart_node:graceful
        expected["n11"] = "running"
    assert after == expected
    assert rig.mutations(), "an API operation made no provider call"
    if operation == "restart_node:graceful":
        assert len(rig.mutations()) >= 2, "a power cycle is a stop and a start"


# --- aws: a real moto endpoint --------------------------------------------------------------

def test_aws_stop_and_start_change_real_instance_states(make_rig):
    rig = make_rig("aws")
    rig.power.stop_node("n12")
    assert [rig.truth(n) for n in NODES] == ["running", "stopped", "running"]
    assert rig.power.node_state("n12") == "stopped"
    rig.power.start_node("n12")
    assert [rig.truth(n) for n in NODES] == ["running"] * 3
    assert rig.mutations() == [("StopInstances", {"InstanceIds": [rig.ids["n12"]]}),
                               ("StartInstances", {"InstanceIds": [rig.ids["n12"]]})]


def test_aws_crash_destroy_is_a_forced_stop(make_rig):
    rig = make_rig("aws")
    rig.power.crash_node("n11", method="destroy")
    assert rig.truth("n11") == "stopped"
    assert rig.mutations() == [("StopInstances", {"InstanceIds": [rig.ids["n11"]], "Force": True})]


def test_aws_graceful_restart_is_stop_then_start(make_rig):
    rig = make_rig("aws")
    rig.power.restart_node("n13", method="graceful")
    assert rig.truth("n13") == "running"
    assert [name for name, _ in rig.mutations()] == ["StopInstances", "StartInstances"]


def test_aws_cluster_stop_and_start(make_rig):
    rig = make_rig("aws")
    rig.power.stop_cluster()
    assert {rig.truth(n) for n in NODES} == {"stopped"}
    rig.power.start_cluster()
    assert {rig.truth(n) for n in NODES} == {"running"}


def test_aws_stop_of_a_stopped_node_makes_no_call(make_rig):
    rig = make_rig("aws")
    rig.put("n11", "stopped")
    rig.power.stop_node("n11")
    rig.power.crash_node("n11", method="destroy")
    assert rig.mutations() == []


def test_aws_power_for_builds_its_client_from_settings(make_rig, endpoint):
    ec2 = make_rig("aws").ec2
    instance = ec2.run_instances(ImageId=AwsRig._image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    power = power_for("aws", region="us-east-1", endpoint_url=endpoint.url, node_ids={"n11": instance},
                      clock=VirtualClock())
    assert power.client.meta.region_name == "us-east-1"
    assert power.node_state("n11") == "running"
    ec2.terminate_instances(InstanceIds=[instance])
    assert power.node_state("n11") == "stopped"  # terminated: off for good


# --- libvirt: the real test:///default driver ----------------------------------------------

def test_libvirt_stop_start_and_destroy_change_real_domain_states(make_rig):
    rig = make_rig("libvirt")
    rig.power.stop_node("n11")
    assert rig.truth("n11") == "stopped" and rig.power.node_state("n11") == "stopped"
    rig.power.start_node("n11")
    assert rig.truth("n11") == "running"
    rig.power.crash_node("n12", method="destroy")
    assert [rig.truth(n) for n in NODES] == ["running", "stopped", "running"]
    name = rig.ids
    assert rig.mutations() == [("shutdown", name["n11"]), ("create", name["n11"]),
                               ("destroy", name["n12"])]


def test_libvirt_graceful_restart_power_cycles_the_domain(make_rig):
    rig = make_rig("libvirt")
    boot = rig.domain("n13").ID()
    rig.power.restart_node("n13", method="graceful")
    assert rig.truth("n13") == "running"
    assert rig.domain("n13").ID() != boot  # a new run of the domain, not the old one
    assert rig.mutations() == [("shutdown", rig.ids["n13"]), ("create", rig.ids["n13"])]


def test_libvirt_stop_cuts_the_power_when_the_guest_ignores_shutdown(make_rig):
    rig = make_rig("libvirt", ignore_shutdown=True, stop_grace=30.0)
    rig.power.stop_node("n11")
    assert rig.truth("n11") == "stopped"
    assert rig.mutations() == [("shutdown", rig.ids["n11"]), ("destroy", rig.ids["n11"])]
    assert rig.power.clock.now() >= 30.0  # it waited the grace period (on the virtual clock)


def test_libvirt_cluster_stop_and_start(make_rig):
    rig = make_rig("libvirt")
    rig.power.stop_cluster()
    assert {rig.truth(n) for n in NODES} == {"stopped"}
    rig.power.start_cluster()
    assert {rig.truth(n) for n in NODES} == {"running"}


def test_libvirt_paused_domain_reads_paused_and_start_resumes_it(make_rig):
    rig = make_rig("libvirt")
    rig.put("n12", "paused")
    assert rig.power.node_state("n12") == "paused"
    rig.power.start_node("n12")
    assert rig.truth("n12") == "running"
    assert rig.mutations() == [("resume", rig.ids["n12"])]


@pytest.mark.parametrize("operation", ["stop_node", "crash_node:destroy", "restart_node:graceful",
                                       "stop_cluster"])
def test_libvirt_transient_domain_cannot_be_powered_off(make_rig, operation):
    rig = make_rig("libvirt", transient=True)
    with pytest.raises(NotImplementedError) as raised:
        run(rig.power, operation)
    message = str(raised.value)
    assert "libvirt" in message and operation.split(":")[0] in message
    assert "transient" in message and "ssh" in message.lower()
    assert {rig.truth(n) for n in NODES} == {"running"} and rig.mutations() == []


def test_libvirt_power_for_opens_the_uri():
    pytest.importorskip("libvirt", reason=LIBVIRT_REASON)
    power = power_for("libvirt", uri="test:///default", node_ids={"n11": "test"}, clock=VirtualClock())
    try:
        assert power.node_state("n11") in ("running", "stopped")
    finally:
        power.client.close()


# --- azure: real ComputeManagementClient, autospecced VirtualMachinesOperations -------------

def _azure(rig, operation, vm):
    group = AzureRig.group
    return {
        "view": call.instance_view(group, vm),
        "power_off": call.begin_power_off(group, vm, skip_shutdown=False),
        "power_cut": call.begin_power_off(group, vm, skip_shutdown=True),
        "deallocate": call.begin_deallocate(group, vm),
        "start": call.begin_start(group, vm),
    }[operation]


def test_azure_exact_sdk_calls(make_rig):
    rig = make_rig("azure")
    rig.power.stop_node("n11")
    rig.power.start_node("n11")
    rig.power.crash_node("n12", method="destroy")
    rig.power.restart_node("n13", method="graceful")
    a = lambda op, vm: _azure(rig, op, vm)  # noqa: E731
    assert rig.calls.mock_calls == [
        a("view", "vm-n11"), a("power_off", "vm-n11"), a("view", "vm-n11"),
        a("view", "vm-n11"), a("start", "vm-n11"), a("view", "vm-n11"),
        a("view", "vm-n12"), a("power_cut", "vm-n12"), a("view", "vm-n12"),
        a("view", "vm-n13"), a("power_off", "vm-n13"), a("view", "vm-n13"),
        a("view", "vm-n13"), a("start", "vm-n13"), a("view", "vm-n13"),
    ]


def test_azure_cluster_requests_every_vm_before_waiting(make_rig):
    rig = make_rig("azure")
    rig.power.stop_cluster()
    calls = rig.calls.mock_calls
    assert [c for c in calls if c[0] == "begin_power_off"] == [
        _azure(rig, "power_off", f"vm-{n}") for n in NODES]
    assert calls.index(_azure(rig, "power_off", "vm-n13")) < 6  # 3 reads + 3 requests, then waits
    assert {rig.truth(n) for n in NODES} == {"stopped"}


def test_azure_deallocate_option_and_state_mapping(make_rig):
    rig = make_rig("azure", deallocate=True)
    rig.power.stop_node("n11")
    assert rig.power_state["vm-n11"] == "deallocated" and rig.power.node_state("n11") == "stopped"
    assert _azure(rig, "deallocate", "vm-n11") in rig.calls.mock_calls
    for code, state in (("starting", "unknown"), ("deallocating", "unknown"), ("running", "running")):
        rig.power_state["vm-n12"] = code
        assert rig.power.node_state("n12") == state


def test_azure_vm_in_another_resource_group(make_rig):
    rig = make_rig("azure")
    rig.power.node_ids["n11"] = "rg-other/vm-n11"
    rig.power.stop_node("n11")
    assert call.begin_power_off("rg-other", "vm-n11", skip_shutdown=False) in rig.calls.mock_calls


def test_azure_needs_a_resource_group():
    from azure.mgmt.compute import ComputeManagementClient

    client = ComputeManagementClient(NoTokenCredential(), SUBSCRIPTION)
    with pytest.raises(ValueError, match="resource group"):
        power_for("azure", client=client, node_ids={"n11": "vm-n11"})


def test_azure_wait_times_out_with_a_clear_description(make_rig):
    rig = make_rig("azure", timeout=90.0, interval=5.0)
    rig.calls.begin_power_off.side_effect = lambda group, vm, **kw: rig._poller(vm, "stopping", "stopping")
    with pytest.raises(WaitTimeout) as raised:
        rig.power.stop_node("n12")
    message = str(raised.value)
    for part in ("azure", "stop_node", "n12", "vm-n12", "to be stopped", "'unknown'", "90s"):
        assert part in message


# --- gcp: real InstancesClient, autospecced methods -----------------------------------------

def _gcp(method, name, **extra):
    where = {"project": GcpRig.project, "zone": GcpRig.zone, "instance": name}
    if extra:
        return getattr(call, method)(request={**where, **extra})
    return getattr(call, method)(**where)


def test_gcp_exact_sdk_calls(make_rig):
    rig = make_rig("gcp")
    rig.power.stop_node("n11")
    rig.power.start_node("n11")
    rig.power.crash_node("n12", method="destroy")
    rig.power.restart_node("n13", method="graceful")
    assert rig.calls.mock_calls == [
        _gcp("get", "inst-n11"), _gcp("stop", "inst-n11"), _gcp("get", "inst-n11"),
        _gcp("get", "inst-n11"), _gcp("start", "inst-n11"), _gcp("get", "inst-n11"),
        _gcp("get", "inst-n12"), _gcp("stop", "inst-n12", no_graceful_shutdown=True),
        _gcp("get", "inst-n12"),
        _gcp("get", "inst-n13"), _gcp("stop", "inst-n13"), _gcp("get", "inst-n13"),
        _gcp("get", "inst-n13"), _gcp("start", "inst-n13"), _gcp("get", "inst-n13"),
    ]


def test_gcp_hard_stop_request_is_a_valid_sdk_request():
    from google.cloud import compute_v1

    request = compute_v1.StopInstanceRequest(project="p", zone="z", instance="i",
                                             no_graceful_shutdown=True)
    assert request.no_graceful_shutdown is True


def test_gcp_suspended_instance_reads_paused_and_start_resumes_it(make_rig):
    rig = make_rig("gcp")
    rig.put("n12", "paused")
    assert rig.power.node_state("n12") == "paused"
    rig.power.start_node("n12")
    assert rig.truth("n12") == "running"
    assert rig.mutations() == [_gcp("resume", "inst-n12")]


def test_gcp_instance_in_another_zone_and_zone_required(make_rig):
    rig = make_rig("gcp")
    rig.power.node_ids["n11"] = "us-central1-a/inst-n11"
    rig.status["inst-n11"] = "RUNNING"
    rig.power.stop_node("n11")
    assert call.stop(project=GcpRig.project, zone="us-central1-a", instance="inst-n11") in \
        rig.calls.mock_calls
    with pytest.raises(ValueError, match="zone"):
        power_for("gcp", client=rig.power.client, project="p", node_ids={"n11": "inst-n11"})


# --- hetzner: real hcloud.Client, autospecced ServersClient and ActionsClient ---------------

def test_hetzner_exact_sdk_calls(make_rig):
    from hcloud.servers import Server

    rig = make_rig("hetzner")
    rig.power.stop_node("n11")
    rig.power.start_node("n11")
    rig.power.crash_node("n12", method="destroy")
    rig.power.restart_node("n13", method="graceful")
    assert rig.mutations() == [
        call.shutdown(Server(id=101)), call.power_on(Server(id=101)),
        call.power_off(Server(id=102)),
        call.shutdown(Server(id=103)), call.power_on(Server(id=103)),
    ]
    assert call.get_by_id(101) in rig.servers.mock_calls
    assert [c.args[0] for c in rig.actions.get_by_id.call_args_list] == [9001, 9002, 9003, 9004, 9005]


def test_hetzner_stop_falls_back_to_power_off(make_rig):
    from hcloud.servers import Server

    rig = make_rig("hetzner", ignore_shutdown=True, stop_grace=60.0)
    rig.power.stop_node("n11")
    assert rig.truth("n11") == "stopped"
    assert rig.mutations() == [call.shutdown(Server(id=101)), call.power_off(Server(id=101))]


def test_hetzner_failed_action_raises_the_sdk_error(make_rig):
    from hcloud.actions import ActionFailedException

    rig = make_rig("hetzner", fail_actions=True)
    with pytest.raises(ActionFailedException, match="server is locked"):
        rig.power.crash_node("n11", method="destroy")


def test_hetzner_power_for_builds_an_hcloud_client():
    import hcloud

    power = power_for("hetzner", token="gauntlet-fake-token", node_ids={"n11": 101})
    assert isinstance(power.client, hcloud.Client)


# --- digitalocean: real pydo.Client, autospecced operation groups ---------------------------

def test_digitalocean_exact_sdk_calls(make_rig):
    rig = make_rig("digitalocean")
    rig.power.stop_node("n11")
    rig.power.start_node("n11")
    rig.power.crash_node("n12", method="destroy")
    rig.power.restart_node("n13", method="graceful")
    assert rig.mutations() == [
        call.post(5001, body={"type": "shutdown"}), call.post(5001, body={"type": "power_on"}),
        call.post(5002, body={"type": "power_off"}),
        call.post(5003, body={"type": "shutdown"}), call.post(5003, body={"type": "power_on"}),
    ]
    client = rig.power.client
    assert client.droplets.get.call_args_list[0] == call(5001)
    assert [c.args[0] for c in client.actions.get.call_args_list] == [7001, 7002, 7003, 7004, 7005]


def test_digitalocean_stop_falls_back_to_power_off(make_rig):
    rig = make_rig("digitalocean", ignore_shutdown=True, stop_grace=60.0)
    rig.power.stop_cluster()
    assert {rig.truth(n) for n in NODES} == {"stopped"}
    kinds = [c.kwargs["body"]["type"] for c in rig.mutations()]
    assert kinds == ["shutdown"] * 3 + ["power_off"] * 3


def test_digitalocean_failed_shutdown_falls_back_to_power_off(make_rig):
    rig = make_rig("digitalocean")
    post = rig.calls.post.side_effect

    def shutdown_errors(droplet_id, body=None, **kwargs):
        response = post(droplet_id, body=body, **kwargs)
        if body["type"] == "shutdown":
            rig.fail_actions = True
        return response

    def power_off_succeeds(action_id, **kwargs):
        answer = get(action_id, **kwargs)
        rig.fail_actions = False
        return answer

    get = rig.power.client.actions.get.side_effect
    rig.calls.post.side_effect = shutdown_errors
    rig.power.client.actions.get.side_effect = power_off_succeeds
    rig.power.stop_node("n11")
    assert rig.truth("n11") == "stopped"
    assert [c.kwargs["body"]["type"] for c in rig.mutations()] == ["shutdown", "power_off"]


def test_digitalocean_errored_action_raises(make_rig):
    rig = make_rig("digitalocean", fail_actions=True)
    with pytest.raises(RuntimeError, match="power_on .* errored"):
        rig.put("n11", "stopped")
        rig.power.start_node("n11")


def test_digitalocean_power_for_builds_a_pydo_client():
    import pydo

    power = power_for("digitalocean", token="gauntlet-fake-token", node_ids={"n11": 5001})
    assert isinstance(power.client, pydo.Client)


# --- shared behaviour ------------------------------------------------------------------------

def test_ssh_methods_reach_each_nodes_host_and_port(make_rig, ssh_calls):
    rig = make_rig("hetzner")
    rig.power.restart_node("n12")
    rig.power.crash_node("n13")
    assert ssh_calls == [("restart", "127.0.0.12", 2222, "gauntlet", KEY_FILE),
                         ("crash", "127.0.0.13", 2223, "gauntlet", KEY_FILE)]


def test_ssh_method_without_ssh_settings_says_what_to_configure(make_rig):
    rig = make_rig("digitalocean", ssh=None)
    with pytest.raises(ValueError, match="needs SSH access"):
        rig.power.crash_node("n11")


def test_unknown_node_and_method_are_refused(make_rig):
    rig = make_rig("gcp")
    with pytest.raises(ValueError, match="unknown node 'n99'"):
        rig.power.stop_node("n99")
    with pytest.raises(ValueError, match="ssh, destroy"):
        rig.power.crash_node("n11", method="reset")
    with pytest.raises(ValueError, match="at least one node"):
        power_for("gcp", client=rig.power.client, project="p", zone="z", node_ids={})


def test_client_and_connection_settings_are_exclusive(make_rig):
    rig = make_rig("hetzner")
    with pytest.raises(ValueError, match="not both"):
        power_for("hetzner", client=rig.power.client, token="t", node_ids={"n11": 1})
