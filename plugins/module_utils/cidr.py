# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Egress allowlist entries: validate and normalise CIDRs the way the collection stores them.

smolvm turns a bare address into a host route (/32, or /128 for IPv6) and accepts anything its
parser reads. The collection is stricter: an entry whose host bits are set (10.0.0.1/8) is almost
always a typo for either 10.0.0.1/32 or 10.0.0.0/8, and guessing which would widen or narrow a
bottle's egress silently, so it is refused with the value named.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError


class CidrError(BottleError, ValueError):
    """An allowlist entry is not a usable CIDR; the message names the value and what was expected."""


def normalize_cidr(value) -> str:
    """One entry in canonical form: `127.0.0.16` -> `127.0.0.16/32`, `2001:DB8::/32` -> `2001:db8::/32`."""
    if not isinstance(value, str):
        raise CidrError(f"allowed_cidrs entry {value!r} is a {type(value).__name__}, not a string; "
                        f"expected an address or CIDR such as 127.0.0.16/32 or 10.0.0.0/8")
    text = value.strip()
    if not text:
        raise CidrError("allowed_cidrs has an empty entry; expected an address or CIDR such as "
                        "127.0.0.16/32 or 10.0.0.0/8")
    if "%" in text:
        raise CidrError(f"allowed_cidrs entry {value!r} carries an IPv6 zone (%...); smolvm cannot "
                        f"match on zones, give the address or network without it")
    if "/" not in text:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise CidrError(f"allowed_cidrs entry {value!r} is not an IP address or CIDR; expected "
                            f"a form like 10.0.0.0/8, 127.0.0.16 or 2001:db8::/32") from None
        return f"{address}/{address.max_prefixlen}"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise CidrError(f"allowed_cidrs entry {value!r} is not a valid CIDR; expected a form like "
                        f"10.0.0.0/8, 127.0.0.16/32 or 2001:db8::/32") from None
    if str(network.network_address) != str(ipaddress.ip_address(text.split("/", 1)[0])):
        raise CidrError(f"allowed_cidrs entry {value!r} has host bits set; write "
                        f"{network} for the whole network or "
                        f"{text.split('/', 1)[0]}/{network.max_prefixlen} for the single host")
    return str(network)


def normalize_cidrs(values) -> list:
    """Every entry normalised, in the order given, duplicates dropped (the first one kept)."""
    if isinstance(values, (str, bytes)) or values is None:
        raise CidrError(f"allowed_cidrs must be a list of CIDRs, got {values!r}")
    result = []
    for value in values:
        cidr = normalize_cidr(value)
        if cidr not in result:
            result.append(cidr)
    return result


def same_allowlist(current, wanted) -> bool:
    """Whether a stored allowed_cidrs value allows exactly the networks of `wanted`.

    The allowlist is a set of networks: order and duplicates do not change what a VM may reach.
    `None` and `[]` (both unrestricted to smolvm) each equal only themselves. A stored value that
    cannot be read as CIDRs never equals anything, so it gets replaced.
    """
    if current is None or wanted is None:
        return current is None and wanted is None
    if not isinstance(current, list):
        return False
    try:
        stored = {ipaddress.ip_network(c.strip(), strict=False) for c in current}
        target = {ipaddress.ip_network(w, strict=False) for w in wanted}
    except (AttributeError, ValueError):
        return False
    return stored == target
