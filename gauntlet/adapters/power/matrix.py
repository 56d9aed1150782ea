"""The power-control capability matrix, as data: what requirement 001 says, what Gauntlet does.

One cell per provider and operation::

    MATRIX["hetzner"]["stop_node"] == {
        "document": "No",          # Yes | Planned | Manual | No, as the document's table says
        "gauntlet": "api",         # api | ssh | in-guest | unsupported: how Gauntlet does it
        "note": "...",             # the SDK calls, and "beyond the document" where it goes further
    }

Operations are the workflow steps, with the method where a step has one: ``stop_cluster``,
``start_cluster``, ``stop_node``, ``start_node``, ``restart_node:ssh``,
``restart_node:graceful``, ``crash_node:ssh``, ``crash_node:destroy``.

The document's table has no column for ``restart_node`` with ``method: graceful``; its prose
(step 8 and "Unsupported Operations") says: AWS/Azure/GCP yes, DigitalOcean/Hetzner/libvirt no.
Where the document says No or Manual but the provider's official SDK has the operation, Gauntlet
does it through the API and the note says "beyond the document". The provider classes consult
this matrix before every operation: a cell whose ``gauntlet`` is ``unsupported`` raises
``NotImplementedError`` naming the provider, the operation and the SSH alternative.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set

PROVIDERS = ("aws", "azure", "gcp", "digitalocean", "hetzner", "libvirt")

OPERATIONS = (
    "stop_cluster",
    "start_cluster",
    "stop_node",
    "start_node",
    "restart_node:ssh",
    "restart_node:graceful",
    "crash_node:ssh",
    "crash_node:destroy",
)

DOCUMENT_VALUES = ("Yes", "Planned", "Manual", "No")
GAUNTLET_VALUES = ("api", "ssh", "in-guest", "unsupported")
METHODS = {"restart_node": ("ssh", "graceful"), "crash_node": ("ssh", "destroy")}

BEYOND = "beyond the document"

_SSH_REBOOT = "SSH `sudo reboot` (gauntlet.adapters.power.ssh.ssh_restart); works on every provider."
_SSH_CRASH = ("SSH SysRq trigger (`echo b > /proc/sysrq-trigger`), falling back to `poweroff -f` "
              "(gauntlet.adapters.power.ssh.ssh_crash); works on every provider.")
_STAR = ("Document: Yes* (\"not yet implemented for AWS/Azure/GCP, but supported by provider "
         "APIs\"); Gauntlet implements it.")
_PLANNED = "Document: Planned (supported by the provider, not yet implemented there); implemented."
_GRACEFUL_PROSE = ("Not a column of the document's table: its step 8 says graceful (power cycle) is "
                   "for AWS/Azure/GCP only.")
_GRACEFUL_NO = ("Not a column of the document's table: its step 8 and \"Unsupported Operations\" "
                "say graceful raises NotImplementedError here; " + BEYOND + ": the SDK can do it.")
_MANUAL = ("Document: Manual (in-guest shutdown, manual power-on from the provider's console); "
           + BEYOND + ": both directions go through the API.")
_NO = "Document: No; " + BEYOND + ": the official SDK has the operation."


def _cell(document: str, gauntlet: str, note: str) -> Dict[str, str]:
    return {"document": document, "gauntlet": gauntlet, "note": note}


def _row(doc: Dict[str, str], calls: Dict[str, str], extra: Dict[str, str]) -> Dict[str, Dict[str, str]]:
    row = {}
    for operation in OPERATIONS:
        if operation.endswith(":ssh"):
            row[operation] = _cell(doc[operation], "ssh",
                                   _SSH_REBOOT if operation.startswith("restart") else _SSH_CRASH)
        else:
            row[operation] = _cell(doc[operation], "api", f"{calls[operation]} {extra[operation]}")
    return row


def _cloud(doc_api: str, calls: Dict[str, str]) -> Dict[str, Dict[str, str]]:
    """AWS, Azure, GCP: cluster Yes, node Yes*, crash (API) Planned, graceful Yes (prose)."""
    doc = {"stop_cluster": "Yes", "start_cluster": "Yes", "stop_node": "Yes", "start_node": "Yes",
           "restart_node:ssh": "Yes", "restart_node:graceful": "Yes", "crash_node:ssh": "Yes",
           "crash_node:destroy": doc_api}
    extra = {"stop_cluster": "Document: Yes.", "start_cluster": "Document: Yes.",
             "stop_node": _STAR, "start_node": _STAR, "restart_node:graceful": _GRACEFUL_PROSE,
             "crash_node:destroy": _PLANNED}
    return _row(doc, calls, extra)


def _self_managed(calls: Dict[str, str]) -> Dict[str, Dict[str, str]]:
    """DigitalOcean, Hetzner, libvirt: cluster Manual, node/API crash/graceful No."""
    doc = {"stop_cluster": "Manual", "start_cluster": "Manual", "stop_node": "No", "start_node": "No",
           "restart_node:ssh": "Yes", "restart_node:graceful": "No", "crash_node:ssh": "Yes",
           "crash_node:destroy": "No"}
    extra = {"stop_cluster": _MANUAL, "start_cluster": _MANUAL, "stop_node": _NO, "start_node": _NO,
             "restart_node:graceful": _GRACEFUL_NO, "crash_node:destroy": _NO}
    return _row(doc, calls, extra)


MATRIX: Dict[str, Dict[str, Dict[str, str]]] = {
    "aws": _cloud("Planned", {
        "stop_cluster": "ec2.stop_instances for every node, then describe_instances until each is "
                        "'stopped'.",
        "start_cluster": "ec2.start_instances for every node, then describe_instances until each is "
                         "'running'.",
        "stop_node": "ec2.stop_instances (clean guest shutdown), then describe_instances until "
                     "'stopped'.",
        "start_node": "ec2.start_instances, then describe_instances until 'running'.",
        "restart_node:graceful": "Power cycle: stop_node then start_node (stop_instances, "
                                 "start_instances).",
        "crash_node:destroy": "ec2.stop_instances(Force=True): a hard stop without guest shutdown, "
                              "the power-loss analogue (terminate would delete the node), then "
                              "describe_instances until 'stopped'.",
    }),
    "azure": _cloud("Planned", {
        "stop_cluster": "virtual_machines.begin_power_off for every VM, then instance_view until "
                        "PowerState/stopped.",
        "start_cluster": "virtual_machines.begin_start for every VM, then instance_view until "
                         "PowerState/running.",
        "stop_node": "virtual_machines.begin_power_off(skip_shutdown=False): powered off but still "
                     "allocated (same host, fast start; deallocate=True uses begin_deallocate "
                     "instead), then instance_view until PowerState/stopped.",
        "start_node": "virtual_machines.begin_start, then instance_view until PowerState/running.",
        "restart_node:graceful": "Power cycle: stop_node then start_node (begin_power_off, "
                                 "begin_start), not begin_restart (an in-place reboot).",
        "crash_node:destroy": "virtual_machines.begin_power_off(skip_shutdown=True): non-graceful "
                              "power-off, then instance_view until PowerState/stopped.",
    }),
    "gcp": _cloud("Planned", {
        "stop_cluster": "instances.stop for every instance, then instances.get until TERMINATED.",
        "start_cluster": "instances.start (instances.resume if SUSPENDED) for every instance, then "
                         "instances.get until RUNNING.",
        "stop_node": "instances.stop (ACPI shutdown; Compute Engine forces it off after its own "
                     "timeout), then instances.get until TERMINATED.",
        "start_node": "instances.start (instances.resume if SUSPENDED), then instances.get until "
                      "RUNNING.",
        "restart_node:graceful": "Power cycle: stop_node then start_node (instances.stop, "
                                 "instances.start), not instances.reset.",
        "crash_node:destroy": "instances.stop with no_graceful_shutdown=True: the hard stop that "
                              "leaves the instance off (instances.reset is immediate but restarts "
                              "it at once, so it is not used), then instances.get until TERMINATED.",
    }),
    "digitalocean": _self_managed({
        "stop_cluster": "droplet_actions.post type=shutdown for every droplet, power_off any still on "
                        "after stop_grace, then droplets.get until 'off'.",
        "start_cluster": "droplet_actions.post type=power_on for every droplet, then droplets.get "
                         "until 'active'.",
        "stop_node": "droplet_actions.post type=shutdown (graceful), then type=power_off if still on "
                     "after stop_grace (DigitalOcean's own advice), actions.get until done, "
                     "droplets.get until 'off'.",
        "start_node": "droplet_actions.post type=power_on, actions.get until done, droplets.get until "
                      "'active'.",
        "restart_node:graceful": "Power cycle: stop_node then start_node (shutdown, power_on).",
        "crash_node:destroy": "droplet_actions.post type=power_off: a hard power cut, then "
                              "droplets.get until 'off'.",
    }),
    "hetzner": _self_managed({
        "stop_cluster": "servers.shutdown for every server, servers.power_off any still on after "
                        "stop_grace, then servers.get_by_id until 'off'.",
        "start_cluster": "servers.power_on for every server, then servers.get_by_id until 'running'.",
        "stop_node": "servers.shutdown (ACPI), then servers.power_off if still on after stop_grace, "
                     "actions.get_by_id until done, servers.get_by_id until 'off'.",
        "start_node": "servers.power_on, actions.get_by_id until done, servers.get_by_id until "
                      "'running'.",
        "restart_node:graceful": "Power cycle: stop_node then start_node (shutdown, power_on).",
        "crash_node:destroy": "servers.power_off: cuts power without guest shutdown, then "
                              "servers.get_by_id until 'off'.",
    }),
    "libvirt": _self_managed({
        "stop_cluster": "virDomain.shutdown for every domain, destroy any still on after stop_grace, "
                        "then state() until SHUTOFF.",
        "start_cluster": "virDomain.create (resume if paused) for every domain, then state() until "
                         "RUNNING.",
        "stop_node": "virDomain.shutdown (ACPI), then virDomain.destroy if it is not off after "
                     "stop_grace, state() until SHUTOFF. Transient domains raise "
                     "NotImplementedError (off, they would vanish).",
        "start_node": "virDomain.create (virDomain.resume if paused), state() until RUNNING.",
        "restart_node:graceful": "Power cycle: stop_node then start_node (shutdown, create).",
        "crash_node:destroy": "virDomain.destroy: immediate power-off, state() until SHUTOFF.",
    }),
}


def _check(provider: str, operation: Optional[str] = None) -> None:
    if provider not in MATRIX:
        raise KeyError(f"no power-control matrix row for provider {provider!r}; "
                       f"known: {', '.join(PROVIDERS)}")
    if operation is not None and operation not in MATRIX[provider]:
        raise KeyError(f"no power operation {operation!r}; known: {', '.join(OPERATIONS)}")


def operation_key(step: str, method: Optional[str] = None) -> str:
    """``("restart_node", "ssh")`` -> ``"restart_node:ssh"``; validates step and method."""
    if step in METHODS:
        if method not in METHODS[step]:
            raise ValueError(f"{step}: method must be one of {', '.join(METHODS[step])}, not {method!r}")
        return f"{step}:{method}"
    if method is not None:
        raise ValueError(f"{step} takes no method (got {method!r})")
    if step not in OPERATIONS:
        raise ValueError(f"unknown power operation {step!r}; known: {', '.join(OPERATIONS)}")
    return step


def cell(provider: str, operation: str) -> Dict[str, str]:
    """A copy of one cell: ``{"document", "gauntlet", "note"}``; KeyError if unknown."""
    _check(provider, operation)
    return dict(MATRIX[provider][operation])


def document_cell(provider: str, operation: str) -> str:
    """What requirement 001 says: Yes, Planned, Manual or No."""
    return cell(provider, operation)["document"]


def gauntlet_cell(provider: str, operation: str) -> str:
    """How Gauntlet does it: api, ssh, in-guest or unsupported."""
    return cell(provider, operation)["gauntlet"]


def capabilities(provider: str) -> Set[str]:
    """Operations Gauntlet can do on ``provider`` (every cell not marked unsupported)."""
    _check(provider)
    return {op for op, c in MATRIX[provider].items() if c["gauntlet"] != "unsupported"}


def beyond_document(provider: str) -> Set[str]:
    """Operations the document marks No or Manual that Gauntlet does anyway through the API."""
    _check(provider)
    return {op for op, c in MATRIX[provider].items()
            if c["document"] in ("No", "Manual") and c["gauntlet"] == "api"}


def as_markdown(providers: Optional[List[str]] = None) -> str:
    """The matrix as a Markdown table, 'document -> gauntlet' per cell (for reports and features)."""
    rows = ["| provider | " + " | ".join(OPERATIONS) + " |",
            "|---" * (len(OPERATIONS) + 1) + "|"]
    for provider in providers or PROVIDERS:
        cells = [f"{c['document']} -> {c['gauntlet']}" for c in
                 (MATRIX[provider][op] for op in OPERATIONS)]
        rows.append(f"| {provider} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
