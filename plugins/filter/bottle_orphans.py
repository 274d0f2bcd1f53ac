# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bottle_orphans
short_description: Which bottles are no longer whole, and which of them are provably this user's
version_added: 0.1.0
author: bot-bottle developers
description:
  - Sorts the parts of bottles found on a host into the bottles to reap and the ones to leave alone,
    for the P(bot_bottle.smolmachines.bottle#role) role's teardown.
  - A bottle is this user's when its VM is in this user's smolvm state (the machines given), or when
    its bundle container or network carries the label C(bot_bottle.smolmachines.smolvm_db) naming
    this user's smolvm state DB. Anything else on a shared Docker engine may be another user's
    bottle and is left alone, with the reason.
  - A bottle holding a live alias lease is being launched right now and is left alone.
notes:
  - A bottle is whole while its VM C(bot-bottle-<slug>), its bundle container
    C(bot-bottle-sidecars-<slug>) and its bundle network C(bot-bottle-bundle-<slug>) all exist.
positional: _input, containers, networks
options:
  _input:
    description: The machines of this user's smolvm, as RV(bot_bottle.smolmachines.smolvm_machine_info#module:machines) lists them.
    type: list
    elements: dictionary
    required: true
  containers:
    description: The containers as M(community.docker.docker_host_info) lists them with C(verbose_output=true).
    type: list
    elements: dictionary
    required: true
  networks:
    description: The networks as M(community.docker.docker_host_info) lists them with C(verbose_output=true).
    type: list
    elements: dictionary
    required: true
  aliases:
    description: The pool as RV(bot_bottle.smolmachines.bottle_alias_info#module:aliases) lists it; its lease holders are busy.
    type: list
    elements: dictionary
    default: []
  db_path:
    description: This user's smolvm state DB, as RV(bot_bottle.smolmachines.smolvm_machine_info#module:db_path) reports it.
    type: string
    default: ""
  match:
    description: A regular expression; only slugs in which it is found are considered.
    type: string
    default: ""
"""

EXAMPLES = r"""
---
- name: Sort the bottle parts found on this host
  ansible.builtin.set_fact:
    cleanup: >-
      {{ smolvm.machines | bot_bottle.smolmachines.bottle_orphans(docker.containers, docker.networks,
           aliases=pool.aliases, db_path=smolvm.db_path) }}
"""

RETURN = r"""
_value:
  description: The bottles to reap and the ones left alone, each with the parts it still has.
  type: dictionary
  contains:
    orphans:
      description: Slugs to tear down, sorted, each C({slug, parts}); C(parts) lists V(machine), V(container), V(network).
      type: list
      elements: dictionary
    left_alone:
      description: Slugs not whole but not reaped, each C({slug, parts, reason}).
      type: list
      elements: dictionary
"""

import re

from ansible.errors import AnsibleFilterError

MACHINE_PREFIX = "bot-bottle-"
CONTAINER_PREFIX = "bot-bottle-sidecars-"
NETWORK_PREFIX = "bot-bottle-bundle-"
OWNER_LABEL = "bot_bottle.smolmachines.smolvm_db"
PARTS = ("machine", "container", "network")


def _slug_of(name, prefix):
    name = str(name or "").lstrip("/")
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None


def _container_names(container):
    names = container.get("Names") or [container.get("Name") or ""]
    return [str(name).lstrip("/") for name in names]


def _labels(item):
    return item.get("Labels") or (item.get("Config") or {}).get("Labels") or {}


def _collect(machines, containers, networks):
    """{slug: {"parts": set, "db_paths": set}} for every bottle part found."""
    found = {}

    def note(slug, part, labels=None):
        entry = found.setdefault(slug, {"parts": set(), "db_paths": set()})
        entry["parts"].add(part)
        if labels and labels.get(OWNER_LABEL):
            entry["db_paths"].add(labels[OWNER_LABEL])

    for machine in machines:
        slug = _slug_of(machine.get("name"), MACHINE_PREFIX)
        if slug:
            note(slug, "machine")
    for container in containers:
        for name in _container_names(container):
            slug = _slug_of(name, CONTAINER_PREFIX)
            if slug:
                note(slug, "container", _labels(container))
    for network in networks:
        slug = _slug_of(network.get("Name"), NETWORK_PREFIX)
        if slug:
            note(slug, "network", _labels(network))
    return found


def _busy_slugs(aliases):
    return {holder.get("slug") for alias in aliases for holder in alias.get("holders") or []
            if holder.get("kind") == "lease" and holder.get("slug")}


def bottle_orphans(machines, containers, networks, aliases=None, db_path="", match=""):
    for what, value in (("machines", machines), ("containers", containers), ("networks", networks),
                        ("aliases", aliases or [])):
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise AnsibleFilterError(f"bottle_orphans: {what} must be a list of dictionaries, got {value!r:.200}")
    try:
        wanted = re.compile(match or "")
    except re.error as exc:
        raise AnsibleFilterError(f"bottle_orphans: match={match!r} is not a regular expression ({exc})") from None
    busy = _busy_slugs(aliases or [])
    orphans, left_alone = [], []
    for slug, entry in sorted(_collect(machines, containers, networks).items()):
        parts = [part for part in PARTS if part in entry["parts"]]
        if len(parts) == len(PARTS) or not wanted.search(slug):
            continue
        reason = None
        if slug in busy:
            reason = "it holds a live alias lease: a launch is under way"
        elif "machine" not in entry["parts"] and not (db_path and db_path in entry["db_paths"]):
            reason = (f"its VM is not in this user's smolvm state ({db_path or 'unknown'}) and its "
                      f"Docker parts carry no {OWNER_LABEL} label naming it: it may be another user's")
        if reason:
            left_alone.append({"slug": slug, "parts": parts, "reason": reason})
        else:
            orphans.append({"slug": slug, "parts": parts})
    return {"orphans": orphans, "left_alone": left_alone}


class FilterModule:
    def filters(self):
        return {"bottle_orphans": bottle_orphans}
