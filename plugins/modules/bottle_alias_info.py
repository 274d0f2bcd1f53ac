#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bottle_alias_info
short_description: List the loopback alias pool and who holds each alias
version_added: 0.1.0
description:
  - Lists every alias of the pool with its holder, as M(bot_bottle.smolmachines.bottle_alias) sees
    them. V(bound) a running bundle container publishes on it, V(leased) a live lease promises it to
    a bottle whose bundle has not started yet, V(free) otherwise.
  - Reads Docker with one API call and the lease table once, under a shared lock on O(lock_path)
    when that file exists, so that the reading does not fall in the middle of an allocation. It
    writes nothing.
  - Fails, rather than reporting aliases as free, when Docker or a bundle's bindings cannot be read,
    or the lease table cannot be understood.
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.smolmachines.pool
  - bot_bottle.smolmachines.leases
  - bot_bottle.smolmachines.docker
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - It only reads, so check mode returns the same result.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details:
      - Needs C(fcntl.flock), so Linux, macOS and the BSDs.
seealso:
  - module: bot_bottle.smolmachines.bottle_alias
  - module: bot_bottle.smolmachines.loopback_pool
"""

EXAMPLES = r"""
---
- name: Read the alias pool
  bot_bottle.smolmachines.bottle_alias_info:
  register: alias_pool

- name: Show which bottle holds which alias
  ansible.builtin.debug:
    msg: "{{ item.alias }}: {{ item.status }} by {{ item.slug }}"
  loop: "{{ alias_pool.aliases | rejectattr('status', 'equalto', 'free') }}"

- name: Stop when fewer than four aliases are left
  ansible.builtin.assert:
    that: alias_pool.free >= 4
    fail_msg: "only {{ alias_pool.free }} aliases left; widen the pool"

- name: Read a wider pool on another engine
  bot_bottle.smolmachines.bottle_alias_info:
    first: 127.0.1.0
    last: 127.0.3.255
    docker_host: unix:///run/user/1000/docker.sock
"""

RETURN = r"""
aliases:
  description: Every alias of the pool, lowest first, with its holder.
  returned: success
  type: list
  elements: dict
  contains:
    alias:
      description: The alias.
      type: str
      sample: 127.0.0.16
    status:
      description: V(bound), V(leased) or V(free). A bound alias is reported bound even when a lease
        names it too.
      type: str
      choices: [bound, leased, free]
      sample: bound
    slug:
      description: The bottle holding it, V(null) when free.
      type: str
      sample: researcher-m3hxd
    container:
      description: The bottle's running bundle container, V(null) when none runs.
      type: str
      sample: bot-bottle-sidecars-researcher-m3hxd
    expires_at:
      description: For a leased alias, when the lease expires in seconds since the epoch; V(null)
        otherwise.
      type: int
      sample: 1795870467
  sample:
    - alias: 127.0.0.16
      status: bound
      slug: researcher-m3hxd
      container: bot-bottle-sidecars-researcher-m3hxd
      expires_at: null
    - alias: 127.0.0.17
      status: leased
      slug: builder-x81kq
      container: null
      expires_at: 1795870467
    - alias: 127.0.0.18
      status: free
      slug: null
      container: null
      expires_at: null
free:
  description: How many aliases of the pool are free.
  returned: success
  type: int
  sample: 14
in_use:
  description: How many aliases of the pool are bound or leased.
  returned: success
  type: int
  sample: 2
outside_pool:
  description: Addresses outside the pool that bundle containers publish on, with their holders, in
    the same shape as RV(aliases).
  returned: success
  type: list
  elements: dict
  sample:
    - alias: 127.0.0.200
      status: bound
      slug: legacy-k2j9d
      container: bot-bottle-sidecars-legacy-k2j9d
      expires_at: null
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.alias_allocator import (
    ALLOCATOR_ARGUMENT_SPEC, ALLOCATOR_ERRORS, ALLOCATOR_REQUIRED_TOGETHER, AliasError, allocator_from_params,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    DOCKER_IMPORT_ERROR, HAS_DOCKER,
)


def main():
    module = AnsibleModule(argument_spec=ALLOCATOR_ARGUMENT_SPEC, supports_check_mode=True,
                           required_together=ALLOCATOR_REQUIRED_TOGETHER)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    try:
        report = allocator_from_params(module.params).report()
    except (AliasError,) + ALLOCATOR_ERRORS as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=f"unexpected error while reading the alias pool: {exc}",
                         exception=traceback.format_exc())
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
