# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bottle_input_errors
short_description: Every problem with the inputs of a bottle launch or teardown, each naming its value
version_added: 0.1.0
author: bot-bottle developers
description:
  - Checks the variables of the P(bot_bottle.smolmachines.bottle#role) role before anything is created
    (or removed), and returns one message per problem, so that a single assert reports them all.
  - Numbers given as strings of digits (extra variables on the command line) count as numbers.
notes:
  - "For both states: C(bottle_slug) must name the VM C(bot-bottle-<slug>), the container and the
    network (1 to 29 ASCII letters, digits, V(-) or V(_), starting with a letter or digit, not ending
    with V(-), no V(--)); C(bottle_bundle_stop_timeout) must be V(null) or 1 or more (community.docker
    treats V(0) as unset)."
  - "For O(state=present) also: C(bottle_smolmachine) and C(bottle_bundle_image) are set, the packed
    machine is a file (from O(smolmachine_stat)), C(bottle_bundle_ports) are distinct TCP ports,
    C(bottle_proxy_port) and every port of C(bottle_guest_url_env) are among them, C(bottle_no_proxy)
    is a list of names, C(bottle_guest_env) a mapping, C(bottle_lease_ttl), C(bottle_wait_timeout) and
    C(bottle_smolvm_db_timeout) positive (and finite) seconds, C(bottle_cpus) and C(bottle_mem) positive,
    C(bottle_pool_first) and C(bottle_pool_last) IPv4 addresses in order, and, when O(backend=virtio-net),
    outside C(127.0.0.0/8)."
positional: _input
options:
  _input:
    description: "The role's variables by name, for example C({bottle_slug: researcher-m3hxd, ...})."
    type: dictionary
    required: true
  state:
    description: V(present) checks a launch, V(absent) a teardown.
    type: string
    choices: [present, absent]
    default: present
  smolmachine_stat:
    description:
      - The RV(ansible.builtin.stat#module:stat) result of C(bottle_smolmachine) on the managed host;
        V(null) skips the check that it is a file.
    type: dictionary
  host:
    description: The managed host's name, for the message about a missing packed machine.
    type: string
    default: the managed host
  backend:
    description:
      - The network backend the installed smolvm gives a VM with an allowlist, as
        M(bot_bottle.smolmachines.smolvm_machine_info) reports it in
        RV(bot_bottle.smolmachines.smolvm_machine_info#module:backend_with_allowlist); V(null) when unknown.
      - With V(virtio-net) (smolvm 1.1.3 and later) the guest's C(127.0.0.0/8) is its own loopback, so a pool
        inside it is refused; with V(tsi) (up to 1.1.2) it is allowed.
    type: string
    choices: [tsi, virtio-net]
  smolvm_version:
    description: The installed smolvm's version, for the message about a pool inside C(127.0.0.0/8).
    type: string
seealso:
  - plugin: bot_bottle.smolmachines.bottle_endpoints
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Refuse bad inputs before anything is created
  ansible.builtin.assert:
    that: errors == []
    fail_msg: "{{ errors | join('; ') }}"
  vars:
    errors: >-
      {{ {'bottle_slug': 'researcher--1', 'bottle_bundle_ports': [9099, 70000], 'bottle_proxy_port': 9099}
         | bot_bottle.smolmachines.bottle_input_errors(state='absent') }}
  # => bottle_slug="researcher--1" cannot name the bottle's VM (bot-bottle-researcher--1), ...
"""

RETURN = r"""
_value:
  description: One message per problem, empty when the inputs are usable.
  type: list
  elements: string
  sample:
    - 'bottle_bundle_ports=[9099, 70000] must list distinct TCP ports from 1 to 65535, at least one (70000 is not one)'
    - 'bottle_proxy_port=8888 must be one of bottle_bundle_ports=[9099], or null for a bundle without a proxy'
    - "the pool 127.0.0.16-127.0.0.31 lies inside 127.0.0.0/8, but smolvm 1.32.2 puts a VM with an allowlist on the
      virtio-net backend (smolvm 1.1.3 and later), where the guest's 127.0.0.0/8 is its own loopback: ..."
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.plugin_utils.bottle_launch import InputError, input_errors


def bottle_input_errors(inputs, state="present", smolmachine_stat=None, host="the managed host", backend=None,
                        smolvm_version=None):
    try:
        return input_errors(inputs, state=state, smolmachine_stat=smolmachine_stat, host=host, backend=backend,
                            smolvm_version=smolvm_version)
    except InputError as exc:
        raise AnsibleFilterError(f"bottle_input_errors: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"bottle_input_errors": bottle_input_errors}
