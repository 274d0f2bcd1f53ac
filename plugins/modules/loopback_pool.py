#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loopback_pool
short_description: Make sure the pool of bottle addresses is on the loopback interface
version_added: 0.1.0
description:
  - Makes sure every address of the bottle address pool answers on the host's loopback interface, or takes the pool
    off it with O(state=absent).
  - On Linux a pool outside V(127.0.0.0/8) is added as C(/32) addresses with iproute2's C(ip); a pool inside it needs
    nothing, and the module only verifies the kernel's local route. On macOS and the BSDs each missing address is added
    as a C(/32) alias with C(ifconfig).
  - After a change the interface is read again, and the module fails if it does not show what was asked.
options:
  state:
    description:
      - V(present) adds every missing pool address to the interface.
      - V(absent) removes every pool address from the interface. With a pool inside
        V(127.0.0.0/8) on Linux there are no aliases to remove and nothing changes.
    type: str
    choices: [present, absent]
    default: present
  interface:
    description:
      - The loopback interface.
      - Defaults to V(lo0) with O(method=ifconfig) and to V(lo) with O(method=linux).
    type: str
  method:
    description:
      - How the aliases are put in place.
      - V(ifconfig) reads and changes aliases with a BSD-style C(ifconfig) (macOS, FreeBSD,
        OpenBSD, NetBSD).
      - V(linux) adds and removes C(/32) addresses with iproute2's C(ip) for a pool outside
        V(127.0.0.0/8), and only verifies the kernel's local route for a pool inside it.
      - V(auto) picks V(linux) on Linux and V(ifconfig) on macOS and the BSDs, and fails on other
        platforms.
    type: str
    choices: [auto, ifconfig, linux]
    default: auto
  ifconfig_path:
    description:
      - The C(ifconfig) executable used by O(method=ifconfig).
      - By default C(ifconfig) is looked up on E(PATH) and in C(/sbin) and C(/usr/sbin).
    type: path
extends_documentation_fragment:
  - bot_bottle.smolmachines.pool
  - bot_bottle.smolmachines.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the interface and reports what would be added or removed without changing it. When
        not running as root it warns that the real run needs C(become=true) instead of failing.
  diff_mode:
    support: full
    details:
      - The pool's addresses present on the interface, before and after.
  idempotent:
    support: full
    details:
      - Only missing addresses are added, and only present ones removed.
  platform:
    support: full
    platforms: [darwin, freebsd, netbsd, openbsd, linux]
    details:
      - macOS and the BSDs through C(ifconfig); Linux through iproute2's C(ip) (version 4.14 or
        later, for its JSON output).
notes:
  - Changing addresses needs root. The module never calls C(sudo); run it with C(become=true).
  - Addresses added by this module do not survive a reboot; run the module again after one (the
    bottle role does so before every launch).
  - Which pool suits which smolvm (a pool inside V(127.0.0.0/8) works only up to smolvm 1.1.2) is explained in
    R(Bottle addresses and smolvm versions, ansible_collections.bot_bottle.smolmachines.docsite.guide_addresses).
  - Present addresses are matched exactly, so V(198.18.0.1) never counts as V(198.18.0.16); addresses outside the
    pool are never touched. A pool address already there with another netmask counts as present; on Linux
    O(state=absent) refuses to remove it, because deleting a wider address can take others with it.
  - On Linux O(state=present) fails while the interface is down (a fresh network namespace starts with C(lo) down);
    bring it up with C(ip link set lo up).
  - On Linux a pool inside V(127.0.0.0/8) is verified against the kernel's local table (C(ip -4 route show table
    local), or C(/proc/net/fib_trie) when C(ip) is missing or fails).
seealso:
  - module: bot_bottle.smolmachines.bottle_alias
    description: Gives a bottle the lowest free alias of the same pool.
  - module: bot_bottle.smolmachines.bottle_alias_info
    description: Lists the pool's aliases and who holds them.
  - name: Bottle addresses and smolvm versions
    description: The collection's guide to choosing a pool for the installed smolvm.
    link: https://github.com/bot-bottle/bot_bottle.smolmachines/blob/main/docs/docsite/rst/guide_addresses.rst
author:
  - bot-bottle developers (@bot-bottle)
"""

EXAMPLES = r"""
---
- name: Make sure the default pool answers on the loopback
  bot_bottle.smolmachines.loopback_pool:
  become: true

- name: Add a pool outside 127.0.0.0/8, for smolvm 1.1.3 and later
  bot_bottle.smolmachines.loopback_pool:
    first: 198.18.0.16
    last: 198.18.0.31
  become: true

- name: See which addresses would be added, without changing anything
  bot_bottle.smolmachines.loopback_pool:
    first: 198.18.0.16
    last: 198.18.0.31
  check_mode: true
  diff: true
  register: pool

- name: Take the pool off the loopback again
  bot_bottle.smolmachines.loopback_pool:
    first: 198.18.0.16
    last: 198.18.0.31
    state: absent
  become: true

- name: Verify that Linux delivers a TSI-era pool inside 127.0.0.0/8 (nothing is added)
  bot_bottle.smolmachines.loopback_pool:
    first: 127.0.0.16
    last: 127.0.0.31

- name: Use another ifconfig explicitly
  bot_bottle.smolmachines.loopback_pool:
    method: ifconfig
    ifconfig_path: /sbin/ifconfig
    interface: lo0
  become: true
"""

RETURN = r"""
pool:
  description: The pool the module worked on.
  returned: always
  type: dict
  contains:
    first:
      description: Its first address.
      returned: always
      type: str
      sample: 127.0.0.16
    last:
      description: Its last address.
      returned: always
      type: str
      sample: 127.0.0.31
    size:
      description: How many addresses it holds, reserved addresses inside the range not counted.
      returned: always
      type: int
      sample: 16
  sample: {first: 127.0.0.16, last: 127.0.0.31, size: 16}
method:
  description: The method used, V(auto) resolved.
  returned: always
  type: str
  sample: linux
interface:
  description: The loopback interface, its default resolved for the method.
  returned: always
  type: str
  sample: lo
present:
  description:
    - The pool's addresses that answered on the interface before the module ran.
    - On Linux with a pool inside V(127.0.0.0/8), every pool address when the kernel's local
      route covers the pool.
  returned: always
  type: list
  elements: str
  sample: [198.18.0.16, 198.18.0.17]
added:
  description: The addresses added (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
  sample: [198.18.0.18, 198.18.0.19]
removed:
  description: The addresses removed (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
  sample: []
msg:
  description: What the module did or found, and why; for a pool inside V(127.0.0.0/8) on Linux,
    the route that makes aliases unnecessary.
  returned: always
  type: str
  sample: "added 2 aliases to lo: 198.18.0.18-198.18.0.19"
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import (
    METHODS, STATES, resolve_method,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback_bsd import (
    IfconfigAliases,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback_linux import (
    linux_loopback,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import (
    POOL_ARGUMENT_SPEC, AliasPool,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import exit_with


def argument_spec():
    spec = dict(POOL_ARGUMENT_SPEC)
    spec.update(
        state=dict(type="str", choices=list(STATES), default="present"),
        interface=dict(type="str"),
        method=dict(type="str", choices=list(METHODS), default="auto"),
        ifconfig_path=dict(type="path"),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params

    def run(argv, data=None):
        # ifconfig and ip print the same words in every locale only under C.
        return module.run_command(argv, data=data, environ_update=dict(LC_ALL="C", LANG="C"))

    try:
        pool = AliasPool.from_params(params)
        if resolve_method(params["method"]) == "linux":
            manager = linux_loopback(pool, interface=params["interface"],
                                     ip_path=module.get_bin_path("ip"), run=run)
        else:
            manager = IfconfigAliases(
                pool, interface=params["interface"],
                ifconfig_path=params["ifconfig_path"] or module.get_bin_path("ifconfig"),
                run=run)
        result = manager.ensure(state=params["state"], check_mode=module.check_mode)
    except BottleError as error:
        fail_with(module, error)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error: {exc}", exception=traceback.format_exc())
    exit_with(module, result)


if __name__ == "__main__":
    main()
