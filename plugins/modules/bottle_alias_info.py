#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bottle_alias_info
short_description: List the bottle address pool and who holds each address
version_added: 0.1.0
description:
  - Lists every address of the pool with its holders, as M(bot_bottle.smolmachines.bottle_alias) sees them, and how
    many addresses are free.
  - Reads Docker, smolvm's state database and the lease table once each, under shared locks, and writes nothing. It
    fails, rather than report an address as free, when any of them cannot be read.
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.smolmachines.pool
  - bot_bottle.smolmachines.leases
  - bot_bottle.smolmachines.docker
  - bot_bottle.smolmachines.attributes
  - bot_bottle.smolmachines.attributes.info_module
  - bot_bottle.smolmachines.attributes.platform_flock
notes:
  - An address is V(bound) when a running container publishes on it, V(machine) when a smolvm machine's stored
    allowlist allows it, V(leased) when a live lease promises it, and V(free) otherwise.
    RV(aliases[].holders) names every holder, so two holders of one address show.
  - The shared locks on O(lock_path) and the lease table's own lock are taken only when those files exist, so that the
    reading does not fall in the middle of an allocation; they are never created.
seealso:
  - module: bot_bottle.smolmachines.bottle_alias
  - module: bot_bottle.smolmachines.loopback_pool
"""

EXAMPLES = r"""
---
- name: Read the address pool
  bot_bottle.smolmachines.bottle_alias_info:
  register: alias_pool

- name: Show which bottle, container or machine holds which address
  ansible.builtin.debug:
    msg: "{{ item.alias }}: {{ item.status }} by {{ item.holders | map(attribute='name') | join(', ') }}"
  loop: "{{ alias_pool.aliases | rejectattr('status', 'equalto', 'free') }}"

- name: Stop when fewer than four addresses are left
  ansible.builtin.assert:
    that: alias_pool.free >= 4
    fail_msg: "only {{ alias_pool.free }} addresses left; widen the pool"

- name: Read a TSI-era 127/8 pool on another engine, with smolvm's state elsewhere
  bot_bottle.smolmachines.bottle_alias_info:
    first: 127.0.0.16
    last: 127.0.0.31
    docker_host: unix:///run/user/1000/docker.sock
    smolvm_db_path: /srv/smolvm/.local/share/smolvm/server/smolvm.db
"""

RETURN = r"""
aliases:
  description: Every address of the pool, lowest first, with its holder.
  returned: success
  type: list
  elements: dict
  contains:
    alias:
      description: The address.
      type: str
      sample: 198.18.0.16
    status:
      description: V(bound), V(machine), V(leased) or V(free), the first that applies in this order.
      type: str
      choices: [bound, machine, leased, free]
      sample: bound
    slug:
      description: The bottle holding it, V(null) when free or held by something that is no bottle.
      type: str
      sample: researcher-m3hxd
    container:
      description: The running container publishing on it (for a leased address, the bottle's bundle
        if one runs), V(null) otherwise.
      type: str
      sample: bot-bottle-sidecars-researcher-m3hxd
    machine:
      description: The smolvm machine whose stored allowlist allows it, V(null) when none.
      type: str
      sample: bot-bottle-researcher-m3hxd
    expires_at:
      description: For a leased address, when the lease expires in seconds since the epoch; V(null)
        otherwise.
      type: int
      sample: 1795870467
    holders:
      description: Every holder of the address; more than one means a conflict that
        M(bot_bottle.smolmachines.bottle_alias) refuses.
      type: list
      elements: dict
      contains:
        kind:
          description: V(container), V(machine) or V(lease).
          type: str
          sample: machine
        name:
          description: The container's or machine's name, or the slug a lease names.
          type: str
          sample: bot-bottle-researcher-m3hxd
        slug:
          description: The bottle it belongs to, V(null) when it is no bottle's.
          type: str
          sample: researcher-m3hxd
  sample:
    - alias: 198.18.0.16
      status: bound
      slug: researcher-m3hxd
      container: bot-bottle-sidecars-researcher-m3hxd
      machine: bot-bottle-researcher-m3hxd
      expires_at: null
      holders:
        - {kind: container, name: bot-bottle-sidecars-researcher-m3hxd, slug: researcher-m3hxd}
        - {kind: machine, name: bot-bottle-researcher-m3hxd, slug: researcher-m3hxd}
    - alias: 198.18.0.17
      status: leased
      slug: builder-x81kq
      container: null
      machine: null
      expires_at: 1795870467
      holders:
        - {kind: lease, name: builder-x81kq, slug: builder-x81kq}
    - alias: 198.18.0.18
      status: free
      slug: null
      container: null
      machine: null
      expires_at: null
      holders: []
free:
  description: How many addresses of the pool are free.
  returned: success
  type: int
  sample: 14
in_use:
  description: How many addresses of the pool are bound, allowed to a machine, or leased.
  returned: success
  type: int
  sample: 2
outside_pool:
  description: IPv4 addresses outside the pool that running containers publish on, with their
    holders, in the same shape as RV(aliases).
  returned: success
  type: list
  elements: dict
  sample:
    - alias: 127.0.0.1
      status: bound
      slug: null
      container: postgres
      machine: null
      expires_at: null
      holders:
        - {kind: container, name: postgres, slug: null}
machines:
  description: The smolvm machines whose stored allowlist covers addresses of the pool, and those with
    networking on and no allowlist (confined to nothing).
  returned: success
  type: list
  elements: dict
  contains:
    machine:
      description: The machine's name.
      type: str
      sample: bot-bottle-researcher-m3hxd
    slug:
      description: The bottle it belongs to (its name is C(bot-bottle-) followed by the slug), or V(null).
      type: str
      sample: researcher-m3hxd
    state:
      description: Its state as smolvm stored it.
      type: str
      sample: stopped
    aliases:
      description: The pool addresses its allowlist covers.
      type: list
      elements: str
      sample: [198.18.0.16]
    allowed_cidrs:
      description: Its stored allowlist, V(null) when it has none.
      type: list
      elements: str
      sample: [198.18.0.16/32]
    unrestricted:
      description: Whether networking is on with no allowlist, so it can reach every address.
      type: bool
      sample: false
  sample:
    - machine: bot-bottle-researcher-m3hxd
      slug: researcher-m3hxd
      state: stopped
      aliases: [198.18.0.16]
      allowed_cidrs: [198.18.0.16/32]
      unrestricted: false
everywhere:
  description: Running containers that publish on every address (V(0.0.0.0), V(::)); while one runs,
    M(bot_bottle.smolmachines.bottle_alias) hands out nothing.
  returned: success
  type: list
  elements: dict
  contains:
    container:
      description: The container's name.
      type: str
      sample: web
    ports:
      description: Its ports published on every address.
      type: list
      elements: str
      sample: ["8080->80/tcp on 0.0.0.0"]
  sample: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.alias_allocator import (
    ALLOCATOR_ARGUMENT_SPEC, ALLOCATOR_MUTUALLY_EXCLUSIVE, ALLOCATOR_REQUIRED_TOGETHER, allocator_from_params,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    DOCKER_IMPORT_ERROR, HAS_DOCKER,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult, exit_with


def main():
    module = AnsibleModule(argument_spec=ALLOCATOR_ARGUMENT_SPEC, supports_check_mode=True,
                           required_together=ALLOCATOR_REQUIRED_TOGETHER,
                           mutually_exclusive=ALLOCATOR_MUTUALLY_EXCLUSIVE)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    try:
        report = allocator_from_params(module.params).report()
    except BottleError as error:
        fail_with(module, error)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=f"unexpected error while reading the alias pool: {exc}",
                         exception=traceback.format_exc())
    exit_with(module, ModuleResult(False, **report))


if __name__ == "__main__":
    main()
