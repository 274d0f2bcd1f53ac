# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The loopback alias pool, shared by every module that works on the pool."""

    DOCUMENTATION = r"""
options:
  first:
    description:
      - The first address of the loopback alias pool.
      - Must lie inside V(127.0.0.0/8) and must not be one of the reserved addresses
        V(127.0.0.1), V(127.0.0.2), V(127.0.0.3), V(127.0.0.53) or V(127.0.0.54).
      - Reserved addresses that fall inside a wider pool are skipped, never handed out.
    type: str
    default: 127.0.0.16
    version_added: 0.1.0
  last:
    description:
      - The last address of the pool, inclusive. Must not be below O(first).
      - A pool holds at most 65536 addresses.
    type: str
    default: 127.0.0.31
    version_added: 0.1.0
"""
