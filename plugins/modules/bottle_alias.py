#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bottle_alias
short_description: Give a bottle its own address from the pool, race-free and fail-closed
version_added: 0.1.0
description:
  - Gives the bottle O(slug) the lowest free address of the pool, so that its sidecar bundle can publish on that
    address alone and its microVM can be confined to the address's C(/32).
  - An address is taken while a running container publishes on it, a smolvm machine's stored allowlist covers it, or
    a live lease promises it. The choice and its lease are made under the lock bot-bottle's own launcher takes, so two
    launches never get the same address, and asking again for the same slug returns the same address.
  - O(state=absent) releases the slug's lease. It needs neither Docker nor smolvm's database.
author:
  - bot-bottle developers (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.smolmachines.pool
  - bot_bottle.smolmachines.leases
  - bot_bottle.smolmachines.docker
  - bot_bottle.smolmachines.attributes
  - bot_bottle.smolmachines.attributes.platform_flock
attributes:
  check_mode:
    support: full
    details:
      - Reports the address that would be chosen and writes no lease and no lock file.
  diff_mode:
    support: full
    details:
      - Shows the lease table before and after.
  idempotent:
    support: full
    details:
      - A bottle that holds an address (its bundle publishes on it, its VM is allowed it, or a live lease names it) gets
        it back with C(changed=false). Asking again does not renew a lease; once it has expired, asking again is a new
        allocation.
options:
  slug:
    description:
      - The bottle's identity, for example V(researcher-m3hxd). Its bundle container is named
        O(prefix) followed by the slug.
      - Letters, digits, V(_), V(.) and V(-), starting with a letter or digit. A value with a control
        character or surrounding whitespace (the trailing newline of a YAML folded scalar) is refused,
        never stripped.
    type: str
    required: true
  state:
    description:
      - V(present) gives the bottle an alias (the one it holds, or a new lease).
      - V(absent) releases the bottle's lease. An alias its running bundle publishes on stays in use
        until the bundle container stops.
    type: str
    choices: [present, absent]
    default: present
  lease_ttl:
    description:
      - How long, in seconds, a new lease keeps its address taken before the bundle publishes on it
        or the VM's allowlist holds it. Choose it longer than a launch takes; at most 604800 (a week).
    type: int
    default: 900
notes:
  - Fails closed, handing out nothing, when Docker or smolvm's database cannot be read; when a container publishes on
    every address (V(0.0.0.0) or V(::)); when the bottle's own bundle publishes outside the pool or on several
    addresses, or its bundle and VM disagree; when another container or machine also holds the bottle's address; or
    when the pool is exhausted (RV(holders) names every holder).
  - A launch must make its address durable (its bundle publishing on it) before the lease expires, then ask again; it
    gets RV(source=bound) only while nothing else holds the address.
  - A smolvm machine with networking on and no allowlist takes no address (it would take all of them) and is named in a
    warning, because it can reach every bottle's sidecars.
  - What counts as taken, how leases expire and every rule that fails closed are in the guide
    R(How confinement is proven, ansible_collections.bot_bottle.smolmachines.docsite.guide_confinement).
seealso:
  - module: bot_bottle.smolmachines.bottle_alias_info
  - module: bot_bottle.smolmachines.loopback_pool
  - module: bot_bottle.smolmachines.smolvm_allowlist
  - name: How confinement is proven, and when it fails closed
    description: The collection's guide to handing out addresses, leases and the fail-closed rules.
    link: https://github.com/bot-bottle/bot_bottle.smolmachines/blob/main/docs/docsite/rst/guide_confinement.rst
"""

EXAMPLES = r"""
---
- name: Give the bottle its address
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

- name: Allocate from a wider pool on a remote engine, with shorter leases and smolvm's state elsewhere
  bot_bottle.smolmachines.bottle_alias:
    slug: builder-x81kq
    first: 198.18.1.0
    last: 198.18.3.255
    lease_ttl: 300
    smolvm_state_dir: /srv/smolvm
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
  choices: [bound, machine, leased, allocated, released, none]
  sample: allocated
container:
  description: The name of the bottle's running bundle container, V(null) when none runs.
  returned: always
  type: str
  sample: bot-bottle-sidecars-researcher-m3hxd
machine:
  description: The name of the bottle's smolvm machine when its stored allowlist allows the address,
    V(null) otherwise.
  returned: always
  type: str
  sample: bot-bottle-researcher-m3hxd
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
      machine: bot-bottle-researcher-m3hxd
      expires_at: null
      holders:
        - kind: container
          name: bot-bottle-sidecars-researcher-m3hxd
          slug: researcher-m3hxd
        - kind: machine
          name: bot-bottle-researcher-m3hxd
          slug: researcher-m3hxd
everywhere:
  description: When containers publish on every address, each of them with its ports.
  returned: failed
  type: list
  elements: dict
  sample:
    - container: web
      ports: ["8080->80/tcp on 0.0.0.0"]
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
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import DEFAULT_TTL
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import exit_with


def main():
    argument_spec = dict(
        slug=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        lease_ttl=dict(type="int", default=DEFAULT_TTL),
        **ALLOCATOR_ARGUMENT_SPEC,
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=ALLOCATOR_REQUIRED_TOGETHER,
                           mutually_exclusive=ALLOCATOR_MUTUALLY_EXCLUSIVE)
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
    except BottleError as error:
        fail_with(module, error, slug=params["slug"])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=f"unexpected error while handling the alias of {params['slug']!r}: {exc!r}",
                         exception=traceback.format_exc())
    exit_with(module, outcome)


if __name__ == "__main__":
    main()
