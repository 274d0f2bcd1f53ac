#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loopback_pool
short_description: Make sure the pool of loopback aliases exists on the loopback interface
version_added: 0.1.0
description:
  - Each bottle publishes its sidecar ports on a loopback address of its own, taken from a pool
    (V(127.0.0.16) to V(127.0.0.31) by default). This module makes sure every address of the pool
    answers on the loopback interface, or removes the pool's aliases with O(state=absent).
  - On macOS and the BSDs only V(127.0.0.1) is on C(lo0) after boot. Each missing pool address is
    added with C(ifconfig lo0 alias A/32 up) and removed with C(ifconfig lo0 -alias A). The aliases
    last until reboot. Addresses outside the pool, and the reserved addresses a wide pool skips,
    are never touched.
  - Present aliases are read from C(ifconfig lo0) with an exact address match, so V(127.0.0.1)
    never counts as V(127.0.0.16) or V(127.0.0.160). After a change the interface is read again,
    and the module fails if it does not show what was asked.
  - On Linux the kernel delivers all of V(127.0.0.0/8) to C(lo) through one route in its local
    table, so there is nothing to add and the module reports C(changed=false) with the reason.
    It reads that route rather than assume it (C(ip -4 route show table local), or
    C(/proc/net/fib_trie) when C(ip) is missing or fails) and fails when no local route on the
    loopback covers the pool.
  - Changing aliases needs root. The module never calls C(sudo); run it with C(become=true). When
    it is not root and an alias has to change, it fails and says so; in check mode it reports the
    change it would make and adds a warning instead.
options:
  state:
    description:
      - V(present) adds every missing pool address to the interface.
      - V(absent) removes every pool address from the interface. On Linux there are no aliases to
        remove and nothing changes.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.1.0
  interface:
    description:
      - The loopback interface.
      - Defaults to V(lo0) with O(method=ifconfig) and to V(lo) with O(method=linux), where it is
        the device the kernel's local route must name.
    type: str
    version_added: 0.1.0
  method:
    description:
      - How the aliases are put in place.
      - V(ifconfig) reads and changes aliases with a BSD-style C(ifconfig) (macOS, FreeBSD,
        OpenBSD, NetBSD).
      - V(linux) verifies the kernel's local route and changes nothing.
      - V(auto) picks V(linux) on Linux and V(ifconfig) on macOS and the BSDs, and fails on other
        platforms.
    type: str
    choices: [auto, ifconfig, linux]
    default: auto
    version_added: 0.1.0
  ifconfig_path:
    description:
      - The C(ifconfig) executable used by O(method=ifconfig).
      - By default C(ifconfig) is looked up on E(PATH) and in C(/sbin) and C(/usr/sbin).
    type: path
    version_added: 0.1.0
extends_documentation_fragment:
  - bot_bottle.smolmachines.pool
  - ansible.builtin.action_common_attributes
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
  platform:
    support: full
    platforms: [darwin, freebsd, netbsd, openbsd, linux]
    details:
      - macOS and the BSDs through C(ifconfig); Linux through the kernel's local route, where
        nothing needs to change.
notes:
  - Aliases added with C(ifconfig) do not survive a reboot; run the module again after one (the
    bottle role does so before every launch).
  - An address of the pool that is already on the interface with another netmask counts as
    present and is left as it is, because it answers either way.
seealso:
  - module: bot_bottle.smolmachines.bottle_alias
    description: Gives a bottle the lowest free alias of the same pool.
  - module: bot_bottle.smolmachines.bottle_alias_info
    description: Lists the pool's aliases and who holds them.
author:
  - bot-bottle developers (@bot-bottle)
"""

EXAMPLES = r"""
---
- name: Make sure the default pool (127.0.0.16-127.0.0.31) answers on the loopback
  bot_bottle.smolmachines.loopback_pool:
  become: true

- name: Add a wider pool on macOS
  bot_bottle.smolmachines.loopback_pool:
    first: 127.0.1.1
    last: 127.0.1.254
  become: true

- name: See which aliases would be added, without changing anything
  bot_bottle.smolmachines.loopback_pool:
  check_mode: true
  diff: true
  register: pool

- name: Remove the default pool's aliases from lo0
  bot_bottle.smolmachines.loopback_pool:
    state: absent
  become: true

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
  sample: ifconfig
interface:
  description: The loopback interface, its default resolved for the method.
  returned: always
  type: str
  sample: lo0
present:
  description:
    - The pool's addresses that answered on the interface before the module ran.
    - With O(method=linux), every pool address when the kernel's local route covers the pool.
  returned: always
  type: list
  elements: str
  sample: [127.0.0.16, 127.0.0.17]
added:
  description: The aliases added (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
  sample: [127.0.0.18, 127.0.0.19]
removed:
  description: The aliases removed (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
  sample: []
msg:
  description: What the module did or found, and why; on Linux, the route that makes aliases
    unnecessary.
  returned: always
  type: str
  sample: "added 2 aliases to lo0: 127.0.0.18-127.0.0.19"
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import (
    METHODS, STATES, LoopbackError, LoopbackPool, resolve_method,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import (
    POOL_ARGUMENT_SPEC, AliasPool, PoolError,
)


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

    def run(argv):
        # ifconfig and ip print the same words in every locale only under C.
        return module.run_command(argv, environ_update=dict(LC_ALL="C", LANG="C"))

    try:
        pool = AliasPool.from_params(params)
        method = resolve_method(params["method"])
        manager = LoopbackPool(
            pool,
            method=method,
            interface=params["interface"],
            ifconfig_path=(params["ifconfig_path"] or module.get_bin_path("ifconfig"))
            if method == "ifconfig" else None,
            ip_path=module.get_bin_path("ip") if method == "linux" else None,
            run=run,
        )
        result = manager.ensure(state=params["state"], check_mode=module.check_mode)
    except PoolError as exc:
        module.fail_json(msg=str(exc))
    except LoopbackError as exc:
        module.fail_json(msg=str(exc), **exc.facts)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error: {exc}", exception=traceback.format_exc())
    else:
        for warning in result.warnings:
            module.warn(warning)
        module.exit_json(**result.as_dict(diff=module._diff))


if __name__ == "__main__":
    main()
