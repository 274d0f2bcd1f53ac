#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smolvm_allowlist
short_description: Make a smolvm machine's persisted egress allowlist right, and prove it
version_added: 0.1.0
description:
  - smolvm 0.5.12 through 1.7.7 silently drops C(--allow-cidr) when a machine is created
    C(--from) a packed C(.smolmachine) file, so the machine would boot with unrestricted egress.
    This module makes the C(allowed_cidrs) stored in smolvm's state database equal the wanted
    list, then reads it back and compares, or fails.
  - When the stored allowlist already allows exactly the wanted networks (a smolvm that honours
    the flag), nothing is written.
  - Otherwise it patches the machine's record in one short write transaction (C(BEGIN IMMEDIATE),
    waiting up to O(timeout) for the lock), writes it back as a BLOB with every other field kept
    as it was, then reads the row back in a fresh connection and compares.
  - It fails, and leaves the database as it was, when the database, its C(vms) table or the
    machine's row is missing, when the row is not a JSON object stored as a BLOB, when the machine
    is running and its stored allowlist differs (a running VM never sees the patch, and smolvm's
    own stop would write the old record back), when the database stays locked past O(timeout),
    or when the read-back differs.
  - A running machine whose stored allowlist already equals the wanted one is left alone and
    reported unchanged, so that a re-run of a launch, or a check right after C(machine start)
    that another writer did not undo the list, passes.
  - smolvm applies the allowlist at the next C(machine start). It adds V(1.1.1.1/32) for DNS at
    start unless every entry is a loopback range.
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the record under the write lock and reports whether it would patch it.
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
      - An empty list denies all egress. The list is compared as a set of networks; order and
        duplicates do not count as a difference.
      - Every entry is validated before the database is opened.
    type: list
    elements: str
    required: true
    version_added: 0.1.0
  network:
    description:
      - When V(true) and O(allowed_cidrs) is not empty, also set the record's C(network) to
        V(true), as smolvm's C(--allow-cidr) does. Without it the allowlist would guard a machine
        that has no networking at all.
      - When V(false), the record's C(network) is left as it is.
    type: bool
    default: true
    version_added: 0.1.0
  db_path:
    description:
      - Path of smolvm's state database.
      - Default is where smolvm itself puts it on the managed host,
        C(~/Library/Application Support/smolvm/server/smolvm.db) on macOS and
        C($XDG_DATA_HOME/smolvm/server/smolvm.db) on Linux (C(~/.local/share) when
        E(XDG_DATA_HOME) is not set to an absolute path).
      - The file must exist; it is never created.
    type: path
    version_added: 0.1.0
  timeout:
    description:
      - Seconds to wait for another writer (a smolvm command) to release the database before
        failing. smolvm itself waits 15 seconds.
    type: float
    default: 15
    version_added: 0.1.0
notes:
  - Run it as the user who runs smolvm, so that the default O(db_path) is that user's and the
    file is writable.
  - Patch only a stopped (or never started) machine with no other smolvm command in flight for
    it; the role runs it between C(machine create) and C(machine start).
seealso:
  - module: bot_bottle.smolmachines.smolvm_machine
  - module: bot_bottle.smolmachines.bottle_alias
  - module: bot_bottle.smolmachines.loopback_pool
"""

EXAMPLES = r"""
---
- name: Confine the bottle's VM to its own loopback alias
  bot_bottle.smolmachines.smolvm_allowlist:
    name: bot-bottle-researcher-m3hxd
    allowed_cidrs:
      - 127.0.0.16/32

- name: Check without writing, showing the allowlist before and after
  bot_bottle.smolmachines.smolvm_allowlist:
    name: bot-bottle-researcher-m3hxd
    allowed_cidrs:
      - 127.0.0.16
  check_mode: true
  diff: true

- name: Deny all egress, in a database kept somewhere else, waiting longer for smolvm
  bot_bottle.smolmachines.smolvm_allowlist:
    name: sealed
    allowed_cidrs: []
    db_path: /srv/smolvm/data/smolvm/server/smolvm.db
    timeout: 60
"""

RETURN = r"""
before:
  description: The record's egress policy as it was found.
  returned: success
  type: dict
  contains:
    allowed_cidrs:
      description: The stored allowlist; V(null) means unrestricted egress, an empty list deny all.
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
    - The record's egress policy after the run (in check mode, what it would be).
    - Equal to RV(before) when nothing changed.
  returned: success
  type: dict
  contains:
    allowed_cidrs:
      description: The stored allowlist, normalised.
      type: list
      elements: str
      sample: ["127.0.0.16/32"]
    network:
      description: Whether the record has networking on.
      type: bool
      sample: true
  sample: {"allowed_cidrs": ["127.0.0.16/32"], "network": true}
machine_state:
  description: The machine's state as the record holds it.
  returned: success
  type: str
  sample: created
db_path:
  description: The state database that was read (and patched).
  returned: success
  type: str
  sample: /home/me/.local/share/smolvm/server/smolvm.db
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import CidrError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (
    DEFAULT_TIMEOUT, AllowlistPatch, SmolvmDbError, default_db_path,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            allowed_cidrs=dict(type="list", elements="str", required=True),
            network=dict(type="bool", default=True),
            db_path=dict(type="path"),
            timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        ),
        supports_check_mode=True,
    )
    params = module.params
    db_path = params["db_path"] or default_db_path()
    try:
        result = AllowlistPatch(
            db_path=db_path, name=params["name"], allowed_cidrs=params["allowed_cidrs"],
            network=params["network"], timeout=params["timeout"],
        ).ensure(check_mode=module.check_mode)
    except (CidrError, SmolvmDbError) as exc:
        module.fail_json(msg=str(exc), db_path=db_path)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error patching machine {params['name']!r} in {db_path}: "
                             f"{exc}; the allowlist is not proven",
                         exception=traceback.format_exc(), db_path=db_path)
    module.exit_json(**result.as_dict(diff=module._diff))


if __name__ == "__main__":
    main()
