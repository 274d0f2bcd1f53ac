# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bottle_probe_targets
short_description: What a bottle's guest must reach and must not reach, for the runtime proof of confinement
version_added: 0.1.0
author: bot-bottle developers
description:
  - Computes the targets M(bot_bottle.smolmachines.smolvm_probe) checks from inside a bottle's guest, for the
    P(bot_bottle.smolmachines.bottle#role) role.
  - "Reachable: the bottle's own address at each of its bundle's host ports."
  - "Unreachable: every endpoint the other running bundles publish (a port published on every address counts at
    the bottle's own address), the host's loopback at the bottle's host ports as the guest addresses it
    (V(127.0.0.1) under TSI, the gateway V(100.96.0.1) under virtio-net, which smolvm's relay dials as the
    host's V(127.0.0.1)), then O(unreachable)."
notes:
  - Fails, naming the target, when a target is both the bottle's own endpoint and one it must not reach, or an
    entry of O(unreachable) is not a C({host, port}) mapping.
positional: _input, host_ports
options:
  _input:
    description: The bottle's address, for example V(198.18.0.16).
    type: string
    required: true
  host_ports:
    description:
      - The bundle's host ports on the address, a list or a mapping of container port to host port (the
        C(ports) of the P(bot_bottle.smolmachines.bottle_endpoints#filter) filter).
    type: raw
    required: true
  containers:
    description:
      - The running bundle containers as the Docker API lists them (C(Names) and C(Ports) with C(IP),
        C(PublicPort), C(Type)), for example the RV(community.docker.docker_host_info#module:containers) of
        M(community.docker.docker_host_info) with O(community.docker.docker_host_info#module:verbose_output=true).
    type: list
    elements: dictionary
    default: []
  own_container:
    description: The bottle's own bundle container, left out of the unreachable targets.
    type: string
    default: ""
  backend:
    description: The VM's network backend, as M(bot_bottle.smolmachines.smolvm_machine_info) reports it.
    type: string
    choices: [tsi, virtio-net]
    default: virtio-net
  unreachable:
    description: Further C({host, port}) targets the guest must not reach.
    type: list
    elements: dictionary
    default: []
seealso:
  - module: bot_bottle.smolmachines.smolvm_probe
  - plugin: bot_bottle.smolmachines.bottle_endpoints
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Probe what bottle A's guest reaches
  bot_bottle.smolmachines.smolvm_probe:
    name: bot-bottle-researcher-m3hxd
    reachable: "{{ targets.reachable }}"
    unreachable: "{{ targets.unreachable }}"
  vars:
    targets: >-
      {{ '198.18.0.16' | bot_bottle.smolmachines.bottle_probe_targets({9099: 49153},
           containers=bundles.containers, own_container='bot-bottle-sidecars-researcher-m3hxd') }}
  # => reachable [{host: 198.18.0.16, port: 49153}]; unreachable: the other bundles' endpoints and 100.96.0.1:49153
"""

RETURN = r"""
_value:
  description: The probe's targets.
  type: dictionary
  contains:
    reachable:
      description: The bottle's own endpoints, each C({host, port}).
      type: list
      elements: dictionary
      sample: [{host: 198.18.0.16, port: 49153}]
    unreachable:
      description: The targets the guest must not reach, each C({host, port}), without duplicates.
      type: list
      elements: dictionary
      sample: [{host: 198.18.0.17, port: 49160}, {host: 100.96.0.1, port: 49153}]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.plugin_utils.bottle_launch import InputError, probe_targets


def bottle_probe_targets(alias, host_ports, containers=None, own_container="", backend="virtio-net", unreachable=None):
    try:
        return probe_targets(alias, host_ports, containers=containers or (), own_container=own_container,
                             backend=backend, unreachable=unreachable or ())
    except InputError as exc:
        raise AnsibleFilterError(f"bottle_probe_targets: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"bottle_probe_targets": bottle_probe_targets}
