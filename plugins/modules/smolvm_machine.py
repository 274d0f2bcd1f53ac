#!/usr/bin/python
# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smolvm_machine
short_description: Create, start, stop and delete a smolvm machine
version_added: 0.1.0
description:
  - Brings one L(smolvm,https://github.com/smol-machines/smolvm) machine to O(state) through the C(smolvm) command
    line, running only the commands needed, with the argument shapes of the installed smolvm version.
  - After acting it lists the machines again and fails unless the machine is in the state asked for, because smolvm
    can exit 0 having done nothing.
  - The create options (O(smolmachine), O(image), O(network), O(allowed_cidrs), O(env), O(cpus), O(mem), O(labels))
    are used only when the machine is created; an existing machine is never changed, and a difference only warns (or,
    for the allowlist, fails with O(allowlist_mismatch=fail)).
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
    details:
      - Reports the commands it would run in RV(commands). It does not wait for the guest.
  diff_mode:
    support: full
    details:
      - The diff shows the machine's name and state before and after.
  idempotent:
    support: full
    details:
      - A machine already in O(state) gets no command. An existing machine is not changed to match the create options.
options:
  name:
    description:
      - The machine's name as smolvm knows it.
      - Must not start with V(-).
    type: str
    required: true
  state:
    description:
      - V(present) creates the machine when it does not exist and leaves an existing one as it is,
        running or not.
      - V(started) creates the machine when needed and starts it unless it is running.
      - V(stopped) creates the machine when needed and stops it when it is running. A machine
        that was created and never started counts as stopped.
      - V(absent) stops a running machine, then deletes it with C(machine delete -f), and checks
        that C(machine ls --json) no longer lists it. smolvm 0.8 deletes a running
        machine's record without stopping its VM, hence the stop first.
    type: str
    choices: [present, started, stopped, absent]
    default: present
  smolmachine:
    description:
      - Path of the packed C(.smolmachine) to create the machine from (C(machine create --from)).
      - Must be an existing file when the machine is created; the module fails before running
        any smolvm command otherwise. Not needed once the machine exists.
      - Mutually exclusive with O(image).
    type: path
  image:
    description:
      - Container image to create the machine from (C(machine create --image)), for example
        V(alpine:3.20).
      - Mutually exclusive with O(smolmachine).
    type: str
  network:
    description:
      - Create the machine with outbound networking (C(--net)).
      - smolvm turns networking on by itself when O(allowed_cidrs) is given, except with
        O(smolmachine) at the versions that drop the allowlist; set O(network=true) with
        O(allowed_cidrs) to state the intent everywhere.
      - A machine without networking is the only way to deny all egress.
    type: bool
    default: false
    aliases: [net]
  allowed_cidrs:
    description:
      - Egress allowlist, one C(--allow-cidr) each. A bare address becomes a V(/32) (or V(/128)).
      - The list is validated and normalised before smolvm runs.
      - An empty list with O(network=true) is refused, because smolvm reads an empty allowlist as
        unrestricted egress. To deny all egress, leave O(network=false) and give no list.
      - Ignored by smolvm 0.5.12 through 1.7.7 together with O(smolmachine); the module warns, and
        M(bot_bottle.smolmachines.smolvm_allowlist) writes the allowlist.
    type: list
    elements: str
    aliases: [allow_cidrs]
  labels:
    description:
      - Labels of the machine, one C(--label KEY=VALUE) each, set on create (smolvm 1.8.0 and
        later; shown by C(machine ls --json) and by M(bot_bottle.smolmachines.smolvm_machine_info)).
      - With an older smolvm they are not set, and the module warns.
    type: dict
  allowlist_mismatch:
    description:
      - What to do when an existing machine's allowlist, as C(machine ls --json) shows it, differs
        from O(allowed_cidrs), V(warn) or V(fail).
    type: str
    choices: [warn, fail]
    default: warn
  env:
    description:
      - Environment variables of the guest, one C(-e KEY=VALUE) each.
      - Numbers are passed as written. Booleans and null are refused, because YAML would turn
        V(yes) into V(True); quote such values.
    type: dict
  cpus:
    description:
      - Number of virtual CPUs. smolvm's default (or the packed machine's) when not given.
    type: int
  mem:
    description:
      - Memory in MiB. smolvm's default (or the packed machine's) when not given.
    type: int
  wait:
    description:
      - With O(state=started), poll C(machine exec -- true) until the guest answers, backing off
        from 0.25 s to 2 s between tries, whether or not this run started the machine.
      - Fails with the last error smolvm printed when the guest has not answered within
        O(wait_timeout).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds O(wait) polls before it gives up.
    type: int
    default: 60
notes:
  - Speaks every smolvm from 0.8 on and is tested against the real smolvm CLI 1.7.7, 1.9.1 and 1.32.2. The PyPI
    package named C(smolvm) is a different program; an executable whose C(--version) does not print
    C(smolvm X.Y.Z) is refused.
  - smolvm 0.5.12 through 1.7.7 silently drops O(allowed_cidrs) with O(smolmachine) (fixed in 1.8.0). The module warns;
    M(bot_bottle.smolmachines.smolvm_allowlist) writes the allowlist into smolvm's database and proves it.
  - A command smolvm refuses with C(database is locked) is run again, backing off, for up to O(db_timeout) seconds,
    only while C(machine ls --json) shows the command wrote nothing; RV(lock_retries) counts the re-runs. No other
    error is retried.
  - Deletes always with C(-f), after stopping a machine that may have a live VM process, and lists the machines again
    until it is gone.
  - What changes from one smolvm version to the next, and how each database lock is handled, is in the guide
    R(Bottle addresses and smolvm versions, ansible_collections.bot_bottle.smolmachines.docsite.guide_addresses).
seealso:
  - module: bot_bottle.smolmachines.smolvm_allowlist
    description: Make a machine's persisted egress allowlist what it must be, and prove it.
  - module: bot_bottle.smolmachines.smolvm_machine_info
    description: List machines with their state, labels and egress policy.
  - module: bot_bottle.smolmachines.bottle_alias
    description: Give a bottle the loopback alias its machine is confined to.
  - name: smolvm
    description: The microVM command line this module drives.
    link: https://github.com/smol-machines/smolvm
  - name: Bottle addresses and smolvm versions
    description: The collection's guide to smolvm versions, network backends and database locks.
    link: https://github.com/bot-bottle/bot_bottle.smolmachines/blob/main/docs/docsite/rst/guide_addresses.rst
"""

EXAMPLES = r"""
---
- name: Create a bottle's machine from its packed image, confined to its alias
  bot_bottle.smolmachines.smolvm_machine:
    name: bot-bottle-researcher-m3hxd
    smolmachine: /var/lib/bot-bottle/agent.smolmachine
    network: true
    allowed_cidrs:
      - 198.18.0.16/32
    labels:
      bot_bottle.slug: researcher-m3hxd
    env:
      PYTHONUNBUFFERED: "1"
    cpus: 2
    mem: 1024

- name: Start it and wait until the guest answers
  bot_bottle.smolmachines.smolvm_machine:
    name: bot-bottle-researcher-m3hxd
    state: started
    wait: true
    wait_timeout: 90

- name: Stop it
  bot_bottle.smolmachines.smolvm_machine:
    name: bot-bottle-researcher-m3hxd
    state: stopped

- name: Delete it, running or not
  bot_bottle.smolmachines.smolvm_machine:
    name: bot-bottle-researcher-m3hxd
    state: absent

- name: Use a smolvm that is not on PATH
  bot_bottle.smolmachines.smolvm_machine:
    name: scratch
    image: alpine:3.20
    state: started
    executable: /opt/smolvm/bin/smolvm

- name: Create a machine that can reach nothing (no networking at all)
  bot_bottle.smolmachines.smolvm_machine:
    name: sealed
    image: alpine:3.20
    network: false
"""

RETURN = r"""
machine:
  description:
    - The machine as C(smolvm machine ls --json) shows it after the run, V({}) when it does not
      exist.
    - In check mode, the machine as it is now.
    - smolvm shows the allowlist here from 1.32.2 only; M(bot_bottle.smolmachines.smolvm_machine_info)
      reads it from the database for older versions.
  returned: success
  type: dict
  sample:
    name: bot-bottle-researcher-m3hxd
    state: running
    cpus: 2
    memory_mib: 1024
    pid: 41233
    mounts: 0
    ports: 0
    created_at: 1748282400
    storage_gb: null
    overlay_gb: null
    image: python:3.12-alpine
    entrypoint: []
    cmd: [python3, app.py]
    ephemeral: false
    gpu: false
    gpu_vram_mib: null
    restart_policy: never
    restart_max_retries: 0
    restart_count: 0
    health_cmd: null
    health_interval_secs: null
    health_timeout_secs: null
    health_retries: null
    health_startup_grace_secs: null
    network: true
version:
  description: The version smolvm reported with C(--version).
  returned: success
  type: str
  sample: 0.8.0
commands:
  description:
    - The smolvm commands that change the machine, as argv lists, in the order they ran (in
      check mode, the order they would run). The executable is its absolute path.
    - With O(wait), the readiness probe is listed once however often it ran.
    - Read-only commands (C(--version), C(machine ls --json)) are not listed.
    - A command run again after C(database is locked) is listed once; RV(lock_retries) counts
      the re-runs.
  returned: always
  type: list
  elements: list
  sample:
    - [/usr/local/bin/smolvm, machine, create, bot-bottle-researcher-m3hxd, --from, /var/lib/bot-bottle/agent.smolmachine,
       --net, --allow-cidr, 127.0.0.16/32]
    - [/usr/local/bin/smolvm, machine, start, --name, bot-bottle-researcher-m3hxd]
lock_retries:
  description:
    - How many times a command was run again because smolvm refused it with C(database is
      locked), over the whole run (V(0) when none was).
    - Also returned when the module fails, with the re-runs made before it gave up.
  returned: always
  type: int
  sample: 1
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import (
    CidrError, normalize_cidrs,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import exit_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import CreateOptions
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_lifecycle import MachineManager
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_common import (
    discover_cli, smolvm_argument_spec,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (
    empty_allowlist_message,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            smolvm_argument_spec(),
            name=dict(type="str", required=True),
            state=dict(type="str", default="present",
                       choices=["present", "started", "stopped", "absent"]),
            smolmachine=dict(type="path"),
            image=dict(type="str"),
            network=dict(type="bool", default=False, aliases=["net"]),
            allowed_cidrs=dict(type="list", elements="str", aliases=["allow_cidrs"]),
            labels=dict(type="dict"),
            allowlist_mismatch=dict(type="str", default="warn", choices=["warn", "fail"]),
            env=dict(type="dict"),
            cpus=dict(type="int"),
            mem=dict(type="int"),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=60),
        ),
        mutually_exclusive=[("smolmachine", "image")],
        supports_check_mode=True,
    )
    params = module.params
    manager = None
    empty = dict(changed=False, commands=[], lock_retries=0)

    if params["allowed_cidrs"] == [] and params["network"]:
        module.fail_json(msg=empty_allowlist_message("allowed_cidrs", params["name"]), **empty)
    try:
        allowed_cidrs = normalize_cidrs(params["allowed_cidrs"] or [])
    except CidrError as exc:
        module.fail_json(msg=f"allowed_cidrs: {exc}", **empty)

    try:
        options = CreateOptions(
            smolmachine=params["smolmachine"], image=params["image"], net=params["network"],
            allow_cidrs=allowed_cidrs, env=params["env"], cpus=params["cpus"], mem=params["mem"],
            labels=params["labels"])
        cli = discover_cli(module)
        manager = MachineManager(cli, db_path=params["db_path"])
        result = manager.ensure(params["name"], state=params["state"], options=options,
                                wait=params["wait"], wait_timeout=params["wait_timeout"],
                                db_timeout=params["db_timeout"],
                                allowlist_mismatch=params["allowlist_mismatch"],
                                check_mode=module.check_mode)
    except BottleError as error:
        known = dict(empty)
        if manager is not None:
            known.update(manager.progress())
            for warning in manager.warnings:
                module.warn(warning)
        fail_with(module, error, **known)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg=f"unexpected error: {exc}", exception=traceback.format_exc())
    exit_with(module, result)


if __name__ == "__main__":
    main()
