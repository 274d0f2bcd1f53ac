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
      - "The default pool V(198.18.0.16)-V(198.18.0.31) lies in V(198.18.0.0/15), which RFC 2544 sets
        aside for benchmarking and which is never routed on the Internet. It works with every smolvm:
        from smolvm 1.1.3 an allowlisted VM runs on the virtio-net backend, where V(127.0.0.0/8) is the
        guest's own loopback, and the host relay dials any other address as it is."
      - "Before using a range on your network, check that it is not used on your LAN or VPN and not
        routed to anything you need: the host answers these addresses itself once they are on its
        loopback interface, so the real hosts behind them become unreachable from it. Check with
        C(ip route get ADDRESS) (Linux) or C(route get ADDRESS) (macOS) before adding the pool."
      - A pool inside V(127.0.0.0/8) (such as V(127.0.0.16)-V(127.0.0.31)) works only with the TSI-era
        smolvm, up to 1.1.2, whose guest reaches the host's loopback. Its reserved addresses
        V(127.0.0.1), V(127.0.0.2), V(127.0.0.3), V(127.0.0.53) and V(127.0.0.54) are never handed
        out, also when a wider pool covers them, and cannot be O(first) or O(last).
      - Refused, because a bottle confined there would not work or would reach something else, is a
        pool that touches V(0.0.0.0/8), smolvm's guest network V(100.96.0.0/30) (the guest's gateway
        V(100.96.0.1) is dialled as the host's V(127.0.0.1)), link-local V(169.254.0.0/16), multicast
        V(224.0.0.0/4) or V(240.0.0.0/4) (reserved, and broadcast V(255.255.255.255)), and a pool that
        crosses the edge of V(127.0.0.0/8).
      - A value with a control character or surrounding whitespace is refused.
    type: str
    default: 198.18.0.16
    version_added: 0.1.0
  last:
    description:
      - The last address of the pool, inclusive. Must not be below O(first).
      - A pool holds at most 65536 addresses.
    type: str
    default: 198.18.0.31
    version_added: 0.1.0
"""
