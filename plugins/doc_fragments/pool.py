# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The loopback alias pool, shared by every module that works on the pool."""

    DOCUMENTATION = r"""
options:
  first:
    description:
      - The first address of the bottle address pool. Each bottle gets one address of the pool, which
        the host holds on its loopback interface; the bottle's sidecars publish on it and its VM may
        reach only it.
      - The default pool V(198.18.0.16)-V(198.18.0.31) lies in V(198.18.0.0/15), which RFC 2544 sets aside for
        benchmarking, and works with every smolvm. A pool inside V(127.0.0.0/8) (such as
        V(127.0.0.16)-V(127.0.0.31)) works only up to smolvm 1.1.2 (TSI), whose guest reaches the host's loopback.
      - Check that a range is not used on your LAN or VPN (C(ip route get ADDRESS), or C(route get ADDRESS) on macOS)
        before adding it, because once it is on the loopback interface the host answers it itself.
      - Inside V(127.0.0.0/8) the addresses V(127.0.0.1), V(127.0.0.2), V(127.0.0.3), V(127.0.0.53) and V(127.0.0.54)
        are never handed out and cannot be O(first) or O(last).
      - Refused is a pool that touches V(0.0.0.0/8), smolvm's guest network V(100.96.0.0/30), V(169.254.0.0/16),
        V(224.0.0.0/4) or V(240.0.0.0/4), or crosses the edge of V(127.0.0.0/8). Why, and which pool suits which
        smolvm, is in
        R(Bottle addresses and smolvm versions, ansible_collections.bot_bottle.smolmachines.docsite.guide_addresses).
      - A value with a control character or surrounding whitespace is refused.
    type: str
    default: 198.18.0.16
  last:
    description:
      - The last address of the pool, inclusive. Must not be below O(first).
      - A pool holds at most 65536 addresses.
    type: str
    default: 198.18.0.31
"""
