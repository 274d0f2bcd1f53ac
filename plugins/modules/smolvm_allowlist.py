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
  - smolvm 0.5.12 through 1.7.7 silently drops C(--allow-cidr) when a machine is created
    C(--from) a packed C(.smolmachine) file, so the machine would boot with unrestricted egress.
    This module makes the C(allowed_cidrs) stored for the machine equal the wanted list, then
    reads it back and compares, or fails.
  - The proof covers the machine's whole egress policy, not only C(allowed_cidrs). It owns
    C(allowed_cidrs) and C(network). It refuses (changing nothing) a record with any other egress
    field that lets the guest reach more, as the real smolvm 1.7.7, 1.9.1 and 1.32.2 write them
    C(network_backend=tsi) (TSI does not enforce an allowlist), an C(allow) rule in
    C(egress_rules) (C(--allow-udp)), C(dns) (C(--dns)), C(dns_filter_hosts) (C(--allow-host),
    C(--allow-host-pattern)), C(block_private) (C(--block-private), C(--allow-private)),
    C(credential_policy) (C(--credential)), C(network_name) (C(--network)),
    C(external_interceptor_required) and C(mediated_egress_required). C(deny) rules,
    C(guest_subnet) and C(dns_options) only narrow or shape the link; they are kept and returned
    in RV(egress).
  - It also refuses a record smolvm itself could not read (a duplicated key, C(NaN), data stored
    as TEXT).
  - When the stored policy already allows exactly the wanted networks, nothing is written.
  - O(method=cli) writes the list through smolvm's own C(machine update --reset-allow-list
    --allow-cidr ...) (smolvm 1.32.2; not in 1.20.2 or before). O(method=db) patches the record in
    one short write transaction (C(BEGIN IMMEDIATE), waiting up to O(db_timeout) for the lock) that
    first checks the row still holds the bytes that were checked, writes it back as a BLOB with
    every other field kept, then reads the row back in a fresh connection. O(method=auto) uses
    the CLI where the installed smolvm has it, else the database.
  - Either way the result is read back from the database (the whole policy) and, where smolvm
    shows it (C(machine ls --json) from 1.32.2), from smolvm itself; any difference fails.
  - Checks read the database over a read-only connection, so a check, or a run that fails before
    writing, leaves the file byte-identical.
  - It fails, and leaves the database as it was, when the database, its C(vms) table or the
    machine's row is missing; when the machine may be running (states C(running), C(paused),
    C(pausing), C(unreachable), C(frozen), or C(failed) with a live pid) and its stored allowlist
    differs (a running VM never sees a patch, and smolvm's own stop would write the old record
    back); when the database stays locked past O(db_timeout); or when the read-back differs.
  - A running machine whose stored policy already equals the wanted one is left alone and
    reported unchanged, so a re-run of a launch passes.
  - An empty O(allowed_cidrs) is B(not) deny-all in smolvm, it means unrestricted egress; it is
    refused while networking is on. To deny all egress, create the machine without networking
    (M(bot_bottle.smolmachines.smolvm_machine) with O(bot_bottle.smolmachines.smolvm_machine#module:network=false)).
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - bot_bottle.smolmachines.smolvm
attributes:
  action_group:
    membership: [bot_bottle.smolmachines.smolvm]
  check_mode:
    support: full
    details: Reads the record (read-only) and reports whether it would change it.
  diff_mode:
    support: full
    details: Shows C(allowed_cidrs) and C(network) of the record before and after.
  platform:
    support: full
    platforms: posix
    details: Linux and macOS, wherever smolvm keeps its SQLite state database.
options:
  name:
    description:
      - The smolvm machine name, as given to C(smolvm machine create).
    type: str
    required: true
    version_added: 0.1.0
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
    version_added: 0.1.0
  network:
    description:
      - When V(true), also set the record's C(network) to V(true), as smolvm's C(--allow-cidr)
        does. Without it the allowlist would guard a machine that has no networking at all.
      - When V(false), the record's C(network) is left as it is.
    type: bool
    default: true
    aliases: [net]
    version_added: 0.1.0
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
    version_added: 0.1.0
notes:
  - Run it as the user who runs smolvm, so that the default O(db_path) is that user's and the
    file is writable.
  - Patch only a stopped (or never started) machine with no other smolvm command in flight for
    it; the role runs it between C(machine create) and C(machine start).
  - smolvm applies the allowlist at the next C(machine start).
seealso:
  - module: bot_bottle.smolmachines.smolvm_machine
  - module: bot_bottle.smolmachines.smolvm_machine_info
  - module: bot_bottle.smolmachines.smolvm_probe
  - module: bot_bottle.smolmachines.bottle_alias
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
