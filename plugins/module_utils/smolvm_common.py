# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every smolvm-facing module shares: its options (documented once, in the doc fragment
bot_bottle.smolmachines.smolvm), and how they become a smolvm CLI and a DB path."""

from __future__ import annotations

import os

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    SmolvmCli, SmolvmError,
)

# Seconds a smolvm command refused on smolvm's locked DB is retried for, and the longest wait for
# the DB's write lock.
DEFAULT_DB_TIMEOUT = 30.0


def smolvm_argument_spec() -> dict:
    """The shared options; db_timeout has no alias: `lock_timeout` is the lease lock's wait and
    `timeout` the Docker API's (or a probe's), so neither may also name smolvm's DB wait."""
    return dict(
        executable=dict(type="path", default="smolvm"),
        state_dir=dict(type="path"),
        db_path=dict(type="path"),
        db_timeout=dict(type="float", default=DEFAULT_DB_TIMEOUT),
    )


def module_runner(module):
    def run(argv):
        # No shell, and no expansion of $VAR or ~ inside argument values.
        return module.run_command(argv, expand_user_and_vars=False)
    return run


def discover_cli(module, params=None) -> SmolvmCli:
    """The smolvm CLI named by `executable`, at its version, with `--state-dir` when asked."""
    params = module.params if params is None else params
    executable = params["executable"]
    if executable and os.sep not in executable:
        # Ansible's own lookup (PATH, then the sbin directories); when it fails, find_executable names what was searched.
        executable = module.get_bin_path(executable) or executable
    return SmolvmCli.discover(module_runner(module), executable=executable, state_dir=params["state_dir"])


def db_path_for(params, cli=None) -> str:
    """`db_path` when given, else where the installed smolvm keeps its DB (state_dir,
    SMOLVM_DATA_DIR as that version honours it, then the platform default)."""
    if params.get("db_path"):
        return params["db_path"]
    from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (  # pylint: disable=import-outside-toplevel
        default_db_path,
    )
    return default_db_path(state_dir=params.get("state_dir"),
                           smolvm_version=cli.version if cli is not None else None)


def listed_allowlist(cli, name):
    """A function returning the allowlist `machine ls --json` shows for `name` (LookupError where
    this smolvm does not show it), for AllowlistPatch's read-back."""
    def read_listed_allowlist():
        machine = cli.get_machine(name)
        if machine is None:
            raise SmolvmError(
                f"`smolvm machine ls --json` does not list machine {name!r}, although the DB that "
                f"was checked holds it: smolvm reads another state (check state_dir, db_path and "
                f"SMOLVM_DATA_DIR); the allowlist is not proven")
        return cli.shown_allowlist(machine)
    return read_listed_allowlist
