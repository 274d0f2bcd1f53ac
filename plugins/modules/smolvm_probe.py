#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smolvm_probe
short_description: Prove from inside a running smolvm guest what it can and cannot reach
version_added: 0.1.0
description:
  - The runtime proof of confinement. For each target it runs a probe command in the guest with
    C(smolvm machine exec) (an argv list, no shell), by default C(nc -z -w TIMEOUT HOST PORT).
  - Fails when any O(reachable) target does not answer or any O(unreachable) target does, naming each one, and
    returns every probe in RV(results) either way.
  - A probe that proves nothing (an exit code other than V(0) or V(1), or smolvm's own C(Error:)) fails the module,
    naming the target, the exit code and what smolvm printed.
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.smolmachines.attributes
  - bot_bottle.smolmachines.attributes.actiongroup_smolvm
  - bot_bottle.smolmachines.attributes.info_module
  - bot_bottle.smolmachines.attributes.platform_smolvm
  - bot_bottle.smolmachines.smolvm
options:
  name:
    description:
      - The running machine to probe from.
    type: str
    required: true
  reachable:
    description:
      - Targets the guest must reach.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: An address or host name, as the guest sees it.
        type: str
        required: true
      port:
        description: A TCP port.
        type: int
        required: true
  unreachable:
    description:
      - Targets the guest must not reach.
      - At least one of O(reachable) and O(unreachable) must hold a target; the same target
        cannot be in both.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: An address or host name, as the guest sees it.
        type: str
        required: true
      port:
        description: A TCP port.
        type: int
        required: true
  timeout:
    description:
      - Seconds each probe may take to connect (the C({timeout}) of O(probe_command)).
    type: int
    default: 3
  probe_command:
    description:
      - The command run in the guest for each target, an argv list. C({host}), C({port}) and
        C({timeout}) are replaced in each word; nothing else is expanded.
      - Must contain C({host}) and C({port}). It must exit V(0) when it connected and V(1) when
        it did not.
    type: list
    elements: str
    default: [nc, -z, -w, "{timeout}", "{host}", "{port}"]
  db_timeout:
    description:
      - Accepted so that C(module_defaults) for the C(group/bot_bottle.smolmachines.smolvm) group
        apply; the probe does not wait for smolvm's database. A probe that smolvm refuses with
        C(database is locked) proves nothing and fails.
notes:
  - Run it after C(machine start) and the wait for the guest
    (M(bot_bottle.smolmachines.smolvm_machine) with O(bot_bottle.smolmachines.smolvm_machine#module:wait=true)).
  - From smolvm 1.1.3 (virtio-net) the host's V(127.0.0.1) is the guest's gateway V(100.96.0.1) and must be
    unreachable; up to 1.1.2 (TSI) smolvm does not enforce the allowlist. See
    R(How confinement is proven, ansible_collections.bot_bottle.smolmachines.docsite.guide_confinement).
seealso:
  - module: bot_bottle.smolmachines.smolvm_machine
  - module: bot_bottle.smolmachines.smolvm_machine_info
  - module: bot_bottle.smolmachines.smolvm_allowlist
  - name: How confinement is proven, and when it fails closed
    description: The collection's guide, with the probe's targets.
    link: https://github.com/bot-bottle/bot_bottle.smolmachines/blob/main/docs/docsite/rst/guide_confinement.rst
"""

EXAMPLES = r"""
---
- name: Prove the bottle reaches its own sidecars and nothing else
  bot_bottle.smolmachines.smolvm_probe:
    name: bot-bottle-researcher-m3hxd
    reachable:
      - host: 198.18.0.16
        port: 8080
      - host: 198.18.0.16
        port: 9418
    unreachable:
      - host: 100.96.0.1    # the gateway, that is the host's 127.0.0.1
        port: 22
      - host: 198.18.0.17   # another bottle's address
        port: 8080

- name: Probe with a guest whose nc is a BusyBox applet only
  bot_bottle.smolmachines.smolvm_probe:
    name: bot-bottle-researcher-m3hxd
    reachable:
      - host: 198.18.0.16
        port: 8080
    timeout: 5
    probe_command: [busybox, nc, -z, -w, "{timeout}", "{host}", "{port}"]
"""

RETURN = r"""
results:
  description:
    - One entry per probe, reachable targets first, in the order given. Also returned when the
      module fails.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The target's address or host name.
      type: str
      sample: 198.18.0.16
    port:
      description: The target's port.
      type: int
      sample: 8080
    expected:
      description: V(reachable) or V(unreachable).
      type: str
      sample: reachable
    reached:
      description: Whether the guest connected; V(null) when the probe proved nothing.
      type: bool
      sample: true
    rc:
      description: The exit code of C(smolvm machine exec).
      type: int
      sample: 0
  sample:
    - {host: 198.18.0.16, port: 8080, expected: reachable, reached: true, rc: 0}
    - {host: 100.96.0.1, port: 22, expected: unreachable, reached: false, rc: 1}
smolvm_version:
  description: The version C(smolvm --version) reported.
  returned: when smolvm was found
  type: str
  sample: 1.32.2
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult, exit_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_common import (
    discover_cli, smolvm_argument_spec,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_probe import (
    DEFAULT_PROBE_COMMAND, DEFAULT_TIMEOUT, ConfinementProbe,
)

TARGET = dict(host=dict(type="str", required=True), port=dict(type="int", required=True))


def main():
    smolvm = smolvm_argument_spec()
    module = AnsibleModule(
        argument_spec=dict(
            smolvm,
            name=dict(type="str", required=True),
            reachable=dict(type="list", elements="dict", default=[], options=TARGET),
            unreachable=dict(type="list", elements="dict", default=[], options=TARGET),
            timeout=dict(type="int", default=DEFAULT_TIMEOUT),
            probe_command=dict(type="list", elements="str", default=list(DEFAULT_PROBE_COMMAND)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    facts = dict(changed=False, results=[])
    try:
        cli = discover_cli(module)
        facts["smolvm_version"] = cli.version_string
        results = ConfinementProbe(
            cli, params["name"], reachable=params["reachable"], unreachable=params["unreachable"],
            timeout=params["timeout"], probe_command=params["probe_command"]).run()
    except BottleError as error:
        fail_with(module, error, **facts)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error probing machine {params['name']!r}: {exc}; the "
                             f"confinement is not proven", exception=traceback.format_exc(), **facts)
    exit_with(module, ModuleResult(False, results=results, smolvm_version=facts["smolvm_version"]))


if __name__ == "__main__":
    main()
