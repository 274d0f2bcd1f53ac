# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The options every smolvm-facing module takes: which smolvm, where its state lives, and how
    long to wait for its database."""

    DOCUMENTATION = r"""
options:
  executable:
    description:
      - The smolvm executable, a name looked up on E(PATH) or a path.
      - The PyPI package named C(smolvm) is a different program; an executable whose
        C(--version) does not print C(smolvm X.Y.Z) is refused.
    type: path
    default: smolvm
  state_dir:
    description:
      - Keep smolvm's state (machines, the database) under this directory, passed as
        C(--state-dir) to every smolvm command and used to find the database
        (C(STATE_DIR/.local/share/smolvm/server/smolvm.db)).
      - smolvm has C(--state-dir) on Linux from a version after 1.20.2 (1.32.2 has it). With an
        older smolvm, or on macOS, the module fails and says so; set E(SMOLVM_DATA_DIR) in the
        task's C(environment) instead (Linux, smolvm 1.2.5 and later), which the module follows
        as smolvm does.
    type: path
  db_path:
    description:
      - Path of smolvm's state database, when it is not where smolvm puts it.
      - By default it is resolved as smolvm resolves it on the managed host, in this order.
        O(state_dir); E(SMOLVM_DATA_DIR) (Linux, smolvm 1.2.5 and later, giving
        C(DIR/.local/share/smolvm/server/smolvm.db)); then
        C(~/Library/Application Support/smolvm/server/smolvm.db) on macOS and
        C($XDG_DATA_HOME/smolvm/server/smolvm.db) on Linux (C(~/.local/share) when
        E(XDG_DATA_HOME) is not an absolute path).
      - The file is never created.
    type: path
  db_timeout:
    description:
      - Seconds to wait for smolvm's database when another smolvm command (or another process)
        holds it.
      - M(bot_bottle.smolmachines.smolvm_machine) runs a smolvm command refused with
        C(database is locked) again for up to this long, while the machine is provably
        unchanged; M(bot_bottle.smolmachines.smolvm_allowlist) waits this long for the write
        lock. smolvm itself waits 15 s (from 1.7.5; 1.4.0 and 1.9.1 fail C(create) at once while
        the database is locked, 1.32.2 waits 15 s).
      - V(0) tries once.
    type: float
    default: 30
"""
