# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Where the bundle containers, the allocation lock and the lease table are found; shared by
    every module that reads or hands out aliases."""

    DOCUMENTATION = r"""
options:
  prefix:
    description:
      - The name prefix of the bottles' bundle containers; the slug is the rest of the name. A running
        container publishing on a pool address holds it whatever its name; the prefix only says which
        bottle a container belongs to.
      - A value with a control character or surrounding whitespace (the trailing newline of a YAML
        folded scalar) is refused, never stripped.
    type: str
    default: bot-bottle-sidecars-
  lock_path:
    description:
      - The allocation lock, the file bot-bottle's own launcher locks too; keep the default to
        serialise with it.
      - M(bot_bottle.smolmachines.bottle_alias) locks it exclusively while it chooses and leases an
        address, creating it with mode V(0600) (its directory with mode V(0700)) when missing.
        M(bot_bottle.smolmachines.bottle_alias_info) locks it shared while it reads, only when it
        exists, and never creates it.
      - Must not be O(lease_path) or the lease table's own lock (O(lease_path) followed by C(.lock)).
      - The file is never reached through a symbolic link, and must belong to the user running the
        module and not be writable by group or others; so must its directory (unless sticky). Otherwise
        the module fails naming the file, its owner and its mode.
    type: path
    default: ~/.cache/bot-bottle/smolmachines.lock
  lease_path:
    description:
      - The lease table written by M(bot_bottle.smolmachines.bottle_alias), a JSON file private to
        its owner (mode V(0600)), replaced atomically. A missing file means no leases.
      - The table has its own lock beside it, O(lease_path) followed by C(.lock), always taken after
        O(lock_path), so callers giving different O(lock_path) values on one table still take turns.
      - A file that cannot be understood (not JSON, a non-finite expiry such as C(NaN) or C(Infinity),
        a duplicate slug or address) is an error, never reset, because a lost lease could give one
        address to two bottles. Temporary files left by a writer that was killed are removed under the
        lock.
      - The same ownership, mode and symbolic-link rules as for O(lock_path) apply.
    type: path
    default: ~/.cache/bot-bottle/smolmachines-leases.json
  lock_timeout:
    description:
      - How long, in seconds, to wait for O(lock_path) and the lease table's lock before failing. The
        message names the process holding the lock when the system says (Linux C(/proc/locks)).
    type: float
    default: 120
  smolvm_db_path:
    description:
      - The smolvm state DB whose machines' stored allowlists hold addresses. Read-only; a file that
        does not exist holds no machine, one that cannot be read fails the module (fail closed).
      - Default, when neither this nor O(smolvm_state_dir) is given, smolvm's own default for the user
        running the module (E(SMOLVM_DATA_DIR), E(XDG_DATA_HOME), C(~/.local/share/smolvm/server/smolvm.db)
        on Linux, C(~/Library/Application Support/smolvm/server/smolvm.db) on macOS).
      - Mutually exclusive with O(smolvm_state_dir).
    type: path
  smolvm_state_dir:
    description:
      - The directory given to smolvm as C(--state-dir) (Linux); its DB is
        C(DIR/.local/share/smolvm/server/smolvm.db).
      - Mutually exclusive with O(smolvm_db_path).
    type: path
"""
