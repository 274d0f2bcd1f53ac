# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottle address pool: a validated range of IPv4 addresses the host holds on its loopback
interface, one per bottle.

Shared by loopback_pool (which puts the addresses on the interface) and bottle_alias (which hands
them out), so both agree on exactly which addresses a pool holds.

The default, 198.18.0.16-198.18.0.31, lies in 198.18.0.0/15, the range RFC 2544 sets aside for
benchmarking and that is never routed on the Internet. It must lie outside 127/8 because from
smolvm 1.1.3 an allowlisted guest runs on virtio-net, where 127/8 is the guest's own loopback; the
host relay dials every other address as-is, so a /32 on the host's loopback is reachable and the
allowlist is enforced. A 127/8 pool still works for the TSI-era smolvm (up to 1.1.2), with its
well-known addresses never handed out.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.text_input import (
    TextInputError, check_plain_text,
)

DEFAULT_FIRST = "198.18.0.16"
DEFAULT_LAST = "198.18.0.31"

LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")

# Never handed out: 127.0.0.1 is the host's own loopback, 127.0.0.2-3 are used by macOS services
# and CUPS, 127.0.0.53 by systemd-resolved, 127.0.0.54 by its proxy and libvirt.
RESERVED = frozenset(ipaddress.IPv4Address(a) for a in
                     ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.53", "127.0.0.54"))

# Ranges no pool may touch: a bottle confined to such an address would not work, or would reach
# something else than its own sidecars.
FORBIDDEN = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "0.0.0.0/8 means 'this host' and is never a destination"),
    (ipaddress.IPv4Network("100.96.0.0/30"),
     "100.96.0.0/30 is smolvm's guest network (the guest is 100.96.0.2 and its gateway 100.96.0.1 is "
     "dialled as the host's 127.0.0.1)"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "169.254.0.0/16 is link-local, assigned per interface"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "224.0.0.0/4 is multicast"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "240.0.0.0/4 is reserved, and 255.255.255.255 is broadcast"),
)

# A /16 worth of addresses. More would make `ifconfig` loops and lease tables absurd on a dev machine.
MAX_POOL_SIZE = 65536

POOL_ARGUMENT_SPEC = dict(
    first=dict(type="str", default=DEFAULT_FIRST),
    last=dict(type="str", default=DEFAULT_LAST),
)


class PoolError(BottleError, ValueError):
    """The pool's range is not usable; the message names the bad value."""


def _parse(option: str, value) -> ipaddress.IPv4Address:
    try:
        check_plain_text(option, value)
    except TextInputError as exc:
        raise PoolError(str(exc)) from None
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError:
        raise PoolError(f"{option}={value!r} is not an IPv4 address; expected an address such as "
                        f"{DEFAULT_FIRST} (or one inside 127.0.0.0/8 for smolvm up to 1.1.2)") from None
    if address in (LOOPBACK_NET.network_address, LOOPBACK_NET.broadcast_address):
        raise PoolError(f"{option}={value} is an edge of 127.0.0.0/8; expected an address between "
                        f"127.0.0.1 and 127.255.255.254")
    if address in RESERVED:
        raise PoolError(f"{option}={value} is reserved (127.0.0.1-3, 127.0.0.53 and 127.0.0.54 "
                        f"are never handed out); choose another end for the pool")
    return address


class AliasPool:
    """An inclusive range of bottle addresses, minus the reserved ones.

    Addresses are kept as integers internally so that membership and "lowest free" stay cheap
    for pools of many thousands of addresses.
    """

    def __init__(self, first: str = DEFAULT_FIRST, last: str = DEFAULT_LAST):
        self.first = _parse("first", first)
        self.last = _parse("last", last)
        if self.first > self.last:
            raise PoolError(f"first={self.first} is above last={self.last}; "
                            f"the pool runs from first up to last")
        span = int(self.last) - int(self.first) + 1
        if span > MAX_POOL_SIZE:
            raise PoolError(f"the pool {self.first}-{self.last} holds {span} addresses; "
                            f"at most {MAX_POOL_SIZE} are allowed, lower last")
        if (self.first in LOOPBACK_NET) != (self.last in LOOPBACK_NET):
            raise PoolError(f"the pool {self.first}-{self.last} crosses the edge of 127.0.0.0/8; a pool "
                            f"lies wholly inside 127/8 (smolvm up to 1.1.2) or wholly outside it")
        for network, why in FORBIDDEN:
            if int(self.first) <= int(network.broadcast_address) and int(network.network_address) <= int(self.last):
                raise PoolError(f"the pool {self.first}-{self.last} overlaps {network}: {why}; "
                                f"choose a range outside it, such as {DEFAULT_FIRST}-{DEFAULT_LAST}")
        self._reserved_inside = {int(a) for a in RESERVED if self.first <= a <= self.last}

    @classmethod
    def from_params(cls, params: dict) -> "AliasPool":
        return cls(params["first"], params["last"])

    @property
    def loopback(self) -> bool:
        """Whether the pool lies in 127/8, which only the TSI-era smolvm (up to 1.1.2) can reach."""
        return self.first in LOOPBACK_NET

    def __len__(self) -> int:
        return int(self.last) - int(self.first) + 1 - len(self._reserved_inside)

    def __contains__(self, address) -> bool:
        try:
            value = int(ipaddress.IPv4Address(str(address)))
        except ValueError:
            return False
        return (int(self.first) <= value <= int(self.last)
                and value not in self._reserved_inside)

    def __iter__(self):
        for value in range(int(self.first), int(self.last) + 1):
            if value not in self._reserved_inside:
                yield str(ipaddress.IPv4Address(value))

    def addresses(self) -> list[str]:
        return list(self)

    def covered_by(self, network) -> list[str]:
        """The pool addresses inside `network` (an IPv4Network), lowest first, without iterating
        the whole network (0.0.0.0/0 covers the whole pool, not 2**32 addresses)."""
        low = max(int(self.first), int(network.network_address))
        high = min(int(self.last), int(network.broadcast_address))
        return [str(ipaddress.IPv4Address(v)) for v in range(low, high + 1) if v not in self._reserved_inside]

    def lowest_free(self, taken) -> str | None:
        """The lowest pool address not in `taken` (an iterable of address strings), or None."""
        taken_values = set()
        for address in taken:
            try:
                taken_values.add(int(ipaddress.IPv4Address(address)))
            except ValueError:
                continue
        for value in range(int(self.first), int(self.last) + 1):
            if value not in self._reserved_inside and value not in taken_values:
                return str(ipaddress.IPv4Address(value))
        return None

    def describe(self) -> str:
        return f"{self.first}-{self.last} ({len(self)} aliases)"
