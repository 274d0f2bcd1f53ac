#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smolvm_allowlist
short_description: Make a smolvm machine's egress policy exactly an allowlist, and prove it
version_added: 0.1.0
description:
  - Makes the egress allowlist smolvm stores for machine O(name) equal O(allowed_cidrs), then reads it back and
    compares, or fails. smolvm 0.5.12 through 1.7.7 silently drops C(--allow-cidr) when a machine is created C(--from)
    a packed C(.smolmachine) file, so such a machine would boot with unrestricted egress.
  - The proof covers the machine's whole egress policy. A record with another egress field that lets the guest reach
    more (for example C(network_backend=tsi), an C(allow) rule, C(dns_filter_hosts)) is refused, changing nothing.
  - Writes through smolvm's own C(machine update) where the installed smolvm has it (1.32.2), else in one short write
    transaction on smolvm's database; only a machine that is not running is changed.
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.smolmachines.attributes
  - bot_bottle.smolmachines.attributes.actiongroup_smolvm
  - bot_bottle.smolmachines.attributes.platform_smolvm
  - bot_bottle.smolmachines.smolvm
attributes:
  check_mode:
    support: full
    details: Reads the record (read-only) and reports whether it would change it.
  diff_mode:
    support: full
    details: Shows C(allowed_cidrs) and C(network) of the record before and after.
  idempotent:
    support: full
    details: When the stored policy already allows exactly the wanted networks, nothing is written, also on a running
      machine.
options:
  name:
    description:
      - The smolvm machine name, as given to C(smolvm machine create).
    type: str
    required: true
  allowed_cidrs:
    description:
      - The networks the machine may reach. An address without a prefix becomes a host route
        (V(/32), or V(/128) for IPv6); IPv4 and IPv6 are accepted.
      - An entry with host bits set (V(10.0.0.1/8)) is an error naming the value.
      - The list is compared as a set of networks; order and duplicates do not count as a
        difference.
      - An empty list with networking on is refused, because smolvm reads it as unrestricted
        egress. An empty list is accepted only with O(network=false) on a machine without
        networking.
      - Every entry is validated before the database is opened.
    type: list
    elements: str
    required: true
    aliases: [allow_cidrs]
  network:
    description:
      - When V(true), also set the record's C(network) to V(true), as smolvm's C(--allow-cidr)
        does. Without it the allowlist would guard a machine that has no networking at all.
      - When V(false), the record's C(network) is left as it is.
    type: bool
    default: true
    aliases: [net]
  method:
    description:
      - How the list is written.
      - V(cli) runs C(smolvm machine update --name NAME --reset-allow-list --allow-cidr ...); the
        module fails when the installed smolvm has no such command (1.20.2 and before).
      - V(db) patches the record in smolvm's database.
      - V(auto) uses V(cli) where smolvm has it, else V(db) (also when O(executable) is not found, as
        the database patch needs no smolvm).
    type: str
    choices: [auto, cli, db]
    default: auto
notes:
  - Fails, leaving the database as it was, when the database, its C(vms) table or the machine's row is missing; when
    the machine may be running and its stored allowlist differs (a running VM never sees a patch); when the database
    stays locked past O(db_timeout); or when the read-back differs.
  - An empty allowlist is B(not) deny-all in smolvm. To deny all egress, create the machine without networking
    (M(bot_bottle.smolmachines.smolvm_machine) with O(bot_bottle.smolmachines.smolvm_machine#module:network=false)).
  - Run it as the user who runs smolvm, between C(machine create) and C(machine start) (as the role does); smolvm
    applies the allowlist at the next C(machine start).
  - Which egress fields are refused and which kept, how the database is patched and read back, and which machine
    states count as running are in the guide
    R(How confinement is proven, ansible_collections.bot_bottle.smolmachines.docsite.guide_confinement).
seealso:
  - module: bot_bottle.smolmachines.smolvm_machine
  - module: bot_bottle.smolmachines.smolvm_machine_info
  - module: bot_bottle.smolmachines.smolvm_probe
  - module: bot_bottle.smolmachines.bottle_alias
  - name: How confinement is proven, and when it fails closed
    description: The collection's guide, with the whole allowlist proof.
    link: https://github.com/bot-bottle/bot_bottle.smolmachines/blob/main/docs/docsite/rst/guide_confinement.rst
"""

EXAMPLES = r"""
---
- name: Confine the bottle's VM to its own address
  bot_bottle.smolmachines.smolvm_allowlist:
    name: bot-bottle-researcher-m3hxd
    allowed_cidrs:
      - 198.18.0.16/32

- name: Check without writing, showing the allowlist before and after
  bot_bottle.smolmachines.smolvm_allowlist:
    name: bot-bottle-researcher-m3hxd
    allowed_cidrs:
      - 198.18.0.16
  check_mode: true
  diff: true

- name: Patch the database directly, in a state directory of its own, waiting longer for smolvm
  bot_bottle.smolmachines.smolvm_allowlist:
    name: bot-bottle-researcher-m3hxd
    allowed_cidrs:
      - 198.18.0.16/32
    method: db
    state_dir: /srv/smolvm
    db_timeout: 60
"""

RETURN = r"""
before:
  description: The record's owned egress fields as they were found.
  returned: success
  type: dict
  contains:
    allowed_cidrs:
      description: The stored allowlist; V(null) and an empty list both mean unrestricted egress.
      type: list
      elements: str
      sample: null
    network:
      description: Whether the record has networking on.
      type: bool
      sample: false
  sample: {"allowed_cidrs": null, "network": false}
after:
  description:
    - The record's owned egress fields after the run (in check mode, what they would be).
    - Equal to RV(before) when nothing changed.
  returned: success
  type: dict
  contains:
    allowed_cidrs:
      description: The stored allowlist, normalised.
      type: list
      elements: str
      sample: ["198.18.0.16/32"]
    network:
      description: Whether the record has networking on.
      type: bool
      sample: true
  sample: {"allowed_cidrs": ["198.18.0.16/32"], "network": true}
egress:
  description:
    - The record's other egress fields, as stored (none of them opens anything, or the module
      failed).
  returned: success
  type: dict
  sample: {"egress_rules": [{"cidr": "10.9.0.0/16", "action": "deny"}]}
method:
  description: How the list was (or would be) written, V(cli) or V(db).
  returned: success
  type: str
  sample: db
machine_state:
  description: The machine's state as the record holds it.
  returned: success
  type: str
  sample: created
db_path:
  description: The state database that was read (and patched).
  returned: always
  type: str
  sample: /home/me/.local/share/smolvm/server/smolvm.db
smolvm_version:
  description: The version of the smolvm that was asked, when it was found.
  returned: when smolvm was found
  type: str
  sample: 1.32.2
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import exit_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    SmolvmError, SmolvmNotFoundError,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_common import (
    db_path_for, discover_cli, listed_allowlist, smolvm_argument_spec,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import AllowlistPatch


def _cli_for(module, method):
    """The smolvm CLI, or None where the DB patch can go ahead without it (method=auto)."""
    params = module.params
    try:
        cli = discover_cli(module)
    except SmolvmNotFoundError:
        if method != "auto" or params["state_dir"]:
            raise
        return None
    if method == "cli" and not cli.has_update_allow_list:
        raise SmolvmError(
            f"method=cli needs `smolvm machine update --reset-allow-list`, which smolvm "
            f"{cli.version_string} does not have (1.32.2 has it, 1.20.2 and before do not); use "
            f"method=db or method=auto")
    return cli


def main():
    module = AnsibleModule(
        argument_spec=dict(
            smolvm_argument_spec(),
            name=dict(type="str", required=True),
            allowed_cidrs=dict(type="list", elements="str", required=True, aliases=["allow_cidrs"]),
            network=dict(type="bool", default=True, aliases=["net"]),
            method=dict(type="str", default="auto", choices=["auto", "cli", "db"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    name = params["name"]
    db_path = params["db_path"]
    facts = {}
    try:
        cli = _cli_for(module, params["method"])
        if cli is not None:
            facts["smolvm_version"] = cli.version_string
        db_path = db_path_for(params, cli)
        cli_update = None
        if cli is not None and cli.has_update_allow_list and params["method"] != "db":
            def cli_update(cidrs):
                cli.run(cli.update_allowlist_argv(name, cidrs))
        result = AllowlistPatch(
            db_path=db_path, name=name, allowed_cidrs=params["allowed_cidrs"],
            network=params["network"], timeout=params["db_timeout"], cli_update=cli_update,
            shown_allowlist=listed_allowlist(cli, name) if cli is not None else None,
        ).ensure(check_mode=module.check_mode)
    except BottleError as error:
        fail_with(module, error, db_path=db_path, **facts)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error patching machine {name!r} in {db_path}: "
                             f"{exc}; the allowlist is not proven",
                         exception=traceback.format_exc(), db_path=db_path, **facts)
    exit_with(module, result, **facts)


if __name__ == "__main__":
    main()
