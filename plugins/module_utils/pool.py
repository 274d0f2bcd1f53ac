# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The loopback alias pool: a validated range of addresses inside 127.0.0.0/8.

Shared by loopback_pool (which puts the aliases on the interface) and bottle_alias (which hands
them out), so both agree on exactly which addresses a pool holds.
"""

from __future__ import annotations

import ipaddress

DEFAULT_FIRST = "127.0.0.16"
DEFAULT_LAST = "127.0.0.31"

LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")

# Never handed out: 127.0.0.1 is the host's own loopback, 127.0.0.2-3 are used by macOS services
# and CUPS, 127.0.0.53 by systemd-resolved, 127.0.0.54 by its proxy and libvirt.
RESERVED = frozenset(ipaddress.IPv4Address(a) for a in
                     ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.53", "127.0.0.54"))

# A /16 worth of aliases. More would make `ifconfig` loops and lease tables absurd on a dev machine.
MAX_POOL_SIZE = 65536

POOL_ARGUMENT_SPEC = dict(
    first=dict(type="str", default=DEFAULT_FIRST),
    last=dict(type="str", default=DEFAULT_LAST),
)


class PoolError(ValueError):
    """The pool's range is not usable; the message names the bad value."""


def _parse(option: str, value: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.IPv4Address(str(value).strip())
    except ValueError:
        raise PoolError(f"{option}={value!r} is not an IPv4 address; "
                        f"expected an address inside 127.0.0.0/8 such as {DEFAULT_FIRST}") from None
    edges = (LOOPBACK_NET.network_address, LOOPBACK_NET.broadcast_address)
    if address not in LOOPBACK_NET or address in edges:
        raise PoolError(f"{option}={value} is outside the loopback range; "
                        f"expected an address between 127.0.0.1 and 127.255.255.254")
    if address in RESERVED:
        raise PoolError(f"{option}={value} is reserved (127.0.0.1-3, 127.0.0.53 and 127.0.0.54 "
                        f"are never handed out); choose another end for the pool")
    return address


class AliasPool:
    """An inclusive range of loopback aliases, minus the reserved addresses.

    Addresses are kept as integers internally so that membership and "lowest free" stay cheap
    for pools of many thousands of aliases.
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
        self._reserved_inside = {int(a) for a in RESERVED if self.first <= a <= self.last}

    @classmethod
    def from_params(cls, params: dict) -> "AliasPool":
        return cls(params["first"], params["last"])

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
