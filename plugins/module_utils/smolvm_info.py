# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What smolvm_machine_info reports: the machines smolvm lists, each with its stored egress policy.

smolvm shows a machine's allowlist in `machine ls --json` only from 1.32.2; before that only its
database holds it. Both are read, and where both show it they must agree (else the database read
is not the one smolvm uses, and the policy is unknown).
"""

from __future__ import annotations

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import same_allowlist
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    MachineSpecError, SmolvmOutputError, backend_with_allowlist, label_pairs,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (
    read_machine_policies,
)


def _has_labels(machine, wanted):
    shown = machine.get("labels") or {}
    return all(shown.get(key) == value for key, value in wanted)


def machine_infos(cli, db_path, db_timeout, name=None, labels=None) -> dict:
    """{smolvm_version, backend_with_allowlist, machines}; machines sorted by name, each
    {name, state, pid, labels, allowed_cidrs, network, egress}. Reads only."""
    if not is_seconds(db_timeout, zero_ok=True):
        raise MachineSpecError(f"db_timeout={db_timeout!r} is not a number of seconds of 0 or more")
    wanted_labels = label_pairs(labels)
    if wanted_labels and not cli.has_labels:
        raise MachineSpecError(
            f"labels={dict(wanted_labels)!r} cannot filter machines of smolvm "
            f"{cli.version_string}: it has no labels (they exist from 1.8.0); filter by name, or "
            f"upgrade smolvm")
    listed = [machine for machine in cli.list_machines()
              if (name is None or machine.get("name") == name) and _has_labels(machine, wanted_labels)]
    # The database is opened only when there is a machine to report.
    policies = read_machine_policies(db_path, db_timeout) if listed else {}
    machines = [_machine_info(cli, machine, policies, db_path)
                for machine in sorted(listed, key=lambda m: str(m.get("name")))]
    return dict(smolvm_version=cli.version_string,
                backend_with_allowlist=backend_with_allowlist(cli.version), machines=machines)


def _machine_info(cli, machine, policies, db_path) -> dict:
    name = machine.get("name")
    policy = policies.get(name)
    if policy is None:
        raise SmolvmOutputError(
            f"`smolvm machine ls --json` lists machine {name!r}, but the database {db_path} has no "
            f"row for it: smolvm reads another database, so its egress policy is unknown; set "
            f"state_dir or db_path, or SMOLVM_DATA_DIR / XDG_DATA_HOME as smolvm sees them",
            argv=cli.list_argv())
    allowed_cidrs = policy["allowed_cidrs"]
    try:
        shown = cli.shown_allowlist(machine)
    except LookupError:
        shown = allowed_cidrs
    if not same_allowlist(shown, allowed_cidrs):
        raise SmolvmOutputError(
            f"`smolvm machine ls --json` shows machine {name!r} with allowed_cidrs {shown!r}, but "
            f"its row in {db_path} holds {allowed_cidrs!r}: smolvm reads another database, so its "
            f"egress policy is not known; check state_dir, db_path and SMOLVM_DATA_DIR",
            argv=cli.list_argv())
    return dict(name=name, state=machine.get("state"), pid=machine.get("pid"),
                labels=dict(machine.get("labels") or {}), allowed_cidrs=shown,
                network=policy["network"], egress=policy["egress"])
