#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smolvm_machine_info
short_description: List smolvm machines with their state, labels and stored egress policy
version_added: 0.1.0
description:
  - Lists the machines C(smolvm machine ls --json) shows, optionally only one O(name) or those carrying every label of
    O(labels), each with its egress policy as smolvm stores it.
  - Reads smolvm's state database too (read-only), because C(machine ls --json) shows the allowlist only from smolvm
    1.32.2, and fails rather than report a policy it cannot vouch for when the two disagree.
  - Tells which network backend the installed smolvm gives a machine with an allowlist (RV(backend_with_allowlist)).
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
      - Report only the machine of this name (an empty RV(machines) when there is none).
    type: str
  labels:
    description:
      - Report only machines that carry every one of these labels with exactly this value.
      - smolvm has labels from 1.8.0; with an older smolvm the module fails and says so.
    type: dict
notes:
  - A machine smolvm lists must have a row in the database, and where both show the allowlist they must agree;
    otherwise the database read is not the one smolvm uses, and the module fails. The database file is left
    byte-identical.
  - Under V(virtio-net) (smolvm 1.1.3 and later) the guest's C(127.0.0.0/8) is its own, so a bottle's address must lie
    outside it; see
    R(Bottle addresses and smolvm versions, ansible_collections.bot_bottle.smolmachines.docsite.guide_addresses).
  - O(db_timeout) bounds the wait while another process holds smolvm's database.
seealso:
  - module: bot_bottle.smolmachines.smolvm_machine
  - module: bot_bottle.smolmachines.smolvm_allowlist
  - module: bot_bottle.smolmachines.smolvm_probe
  - name: Bottle addresses and smolvm versions
    description: The collection's guide to network backends and smolvm versions.
    link: https://github.com/bot-bottle/bot_bottle.smolmachines/blob/main/docs/docsite/rst/guide_addresses.rst
"""

EXAMPLES = r"""
---
- name: Read one bottle's machine
  bot_bottle.smolmachines.smolvm_machine_info:
    name: bot-bottle-researcher-m3hxd
  register: bottle_vm

- name: Refuse to go on unless it is confined to its own address
  ansible.builtin.assert:
    that:
      - bottle_vm.machines | length == 1
      - bottle_vm.machines[0].allowed_cidrs == ['198.18.0.16/32']
      - bottle_vm.machines[0].network

- name: Find every bottle by its label (smolvm 1.8.0 and later)
  bot_bottle.smolmachines.smolvm_machine_info:
    labels:
      bot_bottle.managed: "true"
  register: bottles

- name: List the machines of a state directory of their own
  bot_bottle.smolmachines.smolvm_machine_info:
    state_dir: /srv/smolvm
    executable: /opt/smolvm/bin/smolvm
"""

RETURN = r"""
smolvm_version:
  description: The version C(smolvm --version) reported.
  returned: success
  type: str
  sample: 1.32.2
backend_with_allowlist:
  description:
    - The network backend this smolvm gives a machine that has an allowlist.
    - V(tsi) up to 1.1.2 (the guest's C(127.0.0.16) is the host's, and the allowlist is not
      enforced); V(virtio-net) from 1.1.3 (the guest's C(127.0.0.0/8) is its own; the allowlist is
      enforced).
  returned: success
  type: str
  sample: virtio-net
db_path:
  description: The state database that was read.
  returned: always
  type: str
  sample: /home/me/.local/share/smolvm/server/smolvm.db
machines:
  description: The machines asked for, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The machine's name.
      type: str
      sample: bot-bottle-researcher-m3hxd
    state:
      description: Its state as smolvm lists it (V(created), V(running), V(stopped), ...).
      type: str
      sample: running
    pid:
      description: The pid of its VM process, V(null) when it has none.
      type: int
      sample: 41233
    labels:
      description: Its labels; V({}) before smolvm 1.8.0, which has none.
      type: dict
      sample: {"bot_bottle.slug": "researcher-m3hxd"}
    allowed_cidrs:
      description:
        - Its egress allowlist, as C(machine ls --json) shows it (smolvm 1.32.2) or else as the
          database stores it.
        - V(null) and V([]) both mean B(unrestricted) egress when RV(machines[].network) is true.
      type: list
      elements: str
      sample: ["198.18.0.16/32"]
    network:
      description: Whether it has networking; without it the guest can reach nothing.
      type: bool
      sample: true
    egress:
      description:
        - Every other egress field its record carries, as stored (for example C(network_backend),
          C(egress_rules), C(dns_filter_hosts)); see M(bot_bottle.smolmachines.smolvm_allowlist)
          for what each one opens.
      type: dict
      sample: {"network_backend": "virtio-net"}
  sample:
    - name: bot-bottle-researcher-m3hxd
      state: running
      pid: 41233
      labels: {"bot_bottle.slug": "researcher-m3hxd"}
      allowed_cidrs: ["198.18.0.16/32"]
      network: true
      egress: {}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult, exit_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_common import (
    db_path_for, discover_cli, smolvm_argument_spec,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_info import machine_infos


def main():
    module = AnsibleModule(
        argument_spec=dict(
            smolvm_argument_spec(),
            name=dict(type="str"),
            labels=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    db_path = params["db_path"]
    try:
        cli = discover_cli(module)
        db_path = db_path_for(params, cli)
        result = machine_infos(cli, db_path, params["db_timeout"], name=params["name"],
                               labels=params["labels"])
    except BottleError as error:
        fail_with(module, error, db_path=db_path)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error listing smolvm machines: {exc}",
                         exception=traceback.format_exc(), db_path=db_path)
    exit_with(module, ModuleResult(False, db_path=db_path, **result))


if __name__ == "__main__":
    main()
