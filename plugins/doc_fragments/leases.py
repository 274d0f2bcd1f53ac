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
      - The name prefix of the bundle containers. Only running containers whose name starts with it
        exactly are considered; the slug is the rest of the name.
    type: str
    default: bot-bottle-sidecars-
    version_added: 0.1.0
  lock_path:
    description:
      - The allocation lock, the file bot-bottle's own launcher locks too; keep the default to
        serialise with it.
      - M(bot_bottle.smolmachines.bottle_alias) locks it exclusively while it chooses and leases an
        alias, creating it with mode V(0600) (its directory with mode V(0700)) when missing.
        M(bot_bottle.smolmachines.bottle_alias_info) locks it shared while it reads, only when it
        exists, and never creates it.
    type: path
    default: ~/.cache/bot-bottle/smolmachines.lock
    version_added: 0.1.0
  lease_path:
    description:
      - The lease table written by M(bot_bottle.smolmachines.bottle_alias), a JSON file private to
        its owner (mode V(0600)), replaced atomically. A missing file means no leases.
      - A file that cannot be understood is an error, never reset, because a lost lease could give one
        alias to two bottles.
    type: path
    default: ~/.cache/bot-bottle/smolmachines-leases.json
    version_added: 0.1.0
"""
