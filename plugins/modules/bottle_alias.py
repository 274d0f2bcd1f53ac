#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bottle_alias
short_description: Give a bottle its own loopback alias, race-free and fail-closed
version_added: 0.1.0
description:
  - Gives the bottle O(slug) the lowest free loopback alias of the pool, so that its sidecar bundle
    can publish on that alias alone and its microVM can be confined to the alias's /32.
  - An alias is in use when a running bundle container (named O(prefix) followed by the slug)
    publishes a port on it, or when a live lease promises it to a slug whose bundle has not started
    yet. Docker is read with one API call however many bottles run.
  - The choice and its lease are made under an exclusive lock on O(lock_path), the lock bot-bottle's
    own launcher takes, so launches in separate processes never get the same alias. A lease lasts
    O(lease_ttl) seconds; asking again does not renew it.
  - Idempotent per slug. A bottle whose bundle already publishes on an alias gets that alias back,
    even one outside the pool (with a warning), and never a second one. A bottle holding a lease
    gets the leased alias back. Both report C(changed=false).
  - Fails closed. If Docker cannot be read, a bundle's bindings cannot be read, a bundle publishes on
    every address (V(0.0.0.0) or V(::)) or on a non-IPv4 address, or the pool is exhausted, the
    module fails and hands out nothing.
  - O(state=absent) releases the slug's lease. It does not need Docker.
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
      - Reports the alias that would be chosen and writes no lease, no lock file.
  diff_mode:
    support: full
    details:
      - Shows the lease table before and after.
  platform:
    support: full
    platforms: posix
    details:
      - Needs C(fcntl.flock), so Linux, macOS and the BSDs.
options:
  slug:
    description:
      - The bottle's identity, for example V(researcher-m3hxd). Its bundle container is named
        O(prefix) followed by the slug.
      - Letters, digits, V(_), V(.) and V(-), starting with a letter or digit.
    type: str
    required: true
    version_added: 0.1.0
  state:
    description:
      - V(present) gives the bottle an alias (the one it holds, or a new lease).
      - V(absent) releases the bottle's lease. An alias its running bundle publishes on stays in use
        until the bundle container stops.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.1.0
  lease_ttl:
    description:
      - How long, in seconds, a new lease keeps its alias taken before the bundle container publishes
        on it. Choose it longer than a launch takes.
    type: int
    default: 900
    version_added: 0.1.0
notes:
  - Running bundle containers count, paused ones included; a stopped bundle holds no alias.
  - Leases are not renewed by asking again, so that a repeated call reports no change. A bottle whose
    bundle runs holds its alias through the bundle; its lease then simply expires or is released.
  - Expired leases are removed from the table whenever it is written.
  - Only bundle containers are considered. A non-bundle container publishing on V(0.0.0.0) is
    reachable on every alias; keep such services off the host where bottles run.
seealso:
  - module: bot_bottle.smolmachines.bottle_alias_info
  - module: bot_bottle.smolmachines.loopback_pool
  - module: bot_bottle.smolmachines.smolvm_allowlist
"""

EXAMPLES = r"""
---
- name: Give the bottle its loopback alias
  bot_bottle.smolmachines.bottle_alias:
    slug: researcher-m3hxd
  register: bottle_alias

- name: Publish the bundle on that alias only
  community.docker.docker_container:
    name: "bot-bottle-sidecars-researcher-m3hxd"
    image: bot-bottle/sidecars:latest
    published_ports:
      - "{{ bottle_alias.alias }}::9099"

- name: Release the bottle's lease at teardown
  bot_bottle.smolmachines.bottle_alias:
    slug: researcher-m3hxd
    state: absent

- name: Allocate from a wider pool on a remote engine, with shorter leases
  bot_bottle.smolmachines.bottle_alias:
    slug: builder-x81kq
    first: 127.0.1.0
    last: 127.0.3.255
    lease_ttl: 300
    docker_host: tcp://192.0.2.23:2376
    validate_certs: true
"""

RETURN = r"""
slug:
  description: The bottle's slug.
  returned: always
  type: str
  sample: researcher-m3hxd
alias:
  description: The bottle's alias; V(null) after O(state=absent).
  returned: always
  type: str
  sample: 127.0.0.16
source:
  description:
    - Where the alias comes from. V(bound) its running bundle publishes on it; V(leased) it holds a
      live lease; V(allocated) a new lease was written (or would be, in check mode).
    - With O(state=absent), V(released) when a lease was removed, V(none) when there was none.
  returned: always
  type: str
  choices: [bound, leased, allocated, released, none]
  sample: allocated
container:
  description: The name of the bottle's running bundle container, V(null) when none runs.
  returned: always
  type: str
  sample: bot-bottle-sidecars-researcher-m3hxd
lease:
  description: The bottle's live lease on the alias, V(null) when it holds none.
  returned: always
  type: dict
  contains:
    alias:
      description: The leased alias.
      type: str
      sample: 127.0.0.16
    slug:
      description: The slug it is leased to.
      type: str
      sample: researcher-m3hxd
    expires_at:
      description: When the lease expires, in seconds since the epoch (UTC).
      type: int
      sample: 1795870467
  sample:
    alias: 127.0.0.16
    slug: researcher-m3hxd
    expires_at: 1795870467
msg:
  description: What was done, in words.
  returned: always
  type: str
  sample: 127.0.0.16 leased to researcher-m3hxd for 900 s
holders:
  description: When the pool is exhausted, every alias of the pool with its holder.
  returned: failed
  type: list
  elements: dict
  sample:
    - alias: 127.0.0.16
      status: bound
      slug: researcher-m3hxd
      container: bot-bottle-sidecars-researcher-m3hxd
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
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import DEFAULT_TTL


def main():
    argument_spec = dict(
        slug=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        lease_ttl=dict(type="int", default=DEFAULT_TTL),
        **ALLOCATOR_ARGUMENT_SPEC,
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=ALLOCATOR_REQUIRED_TOGETHER)
    params = module.params
    present = params["state"] == "present"
    # A release only touches the lease table, so it works without the SDK (and without Docker).
    if present and not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    try:
        allocator = allocator_from_params(params, params["lease_ttl"], read_docker=present)
        if present:
            outcome = allocator.ensure_present(params["slug"], check_mode=module.check_mode)
        else:
            outcome = allocator.ensure_absent(params["slug"], check_mode=module.check_mode)
    except AliasError as exc:
        module.fail_json(msg=str(exc), slug=params["slug"], **exc.facts)
    except ALLOCATOR_ERRORS as exc:
        module.fail_json(msg=str(exc), slug=params["slug"])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=f"unexpected error while handling the alias of {params['slug']}: {exc}",
                         exception=traceback.format_exc())
    for warning in outcome.warnings:
        module.warn(warning)
    module.exit_json(**outcome.as_dict(diff=module._diff))


if __name__ == "__main__":
    main()
