# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest network of a smolvm machine, per version: a TEST FIXTURE, not part of the collection.

The smolvm stand-in uses it to answer what a guest would see when it connects somewhere. Facts,
from smolvm's source (src/network/launch.rs, crates/smolvm-network/src/tcp_relay.rs
`host_connect_addr` and `destination_allowed`, crates/smolvm-network/src/egress.rs `allows`) and
the project's reference (reference/smolvm.md, "Current smolvm"):

- No `--net`: the guest has no network; every connection out of it fails.
- An egress policy is a NON-EMPTY allowlist: `[]` and null both mean no policy
  (launch.rs `is_some_and(|c| !c.is_empty())`).
- Backend: up to 1.1.2 a machine gets TSI (a policy even forces it). From 1.1.3 a policy selects
  virtio-net and `--net-backend tsi` with a policy is refused; without a policy the machine keeps
  TSI unless virtio-net was asked for.
- TSI: libkrun proxies the guest's sockets to the host, so the host connects to the destination
  as it is, 127.x included (the guest's 127.0.0.16 is the HOST's); nothing is enforced.
- virtio-net: the guest is 100.96.0.2/30 behind gateway 100.96.0.1. Its own 127.0.0.0/8 stays
  inside the guest. The policy gates the ORIGINAL destination (the gateway address must itself be
  allowed); the relay dials the gateway as the host's 127.0.0.1 and every other destination as is.
  From 1.20.0 the host's loopback is floored by default (SMOLVM_ALLOW_HOST_LOOPBACK, or `machine
  run --allow-host-loopback`, lifts it): a guest cannot reach the host through the gateway.
"""

import ipaddress

TSI = "tsi"
VIRTIO_NET = "virtio-net"
GATEWAY = ipaddress.ip_address("100.96.0.1")
GUEST_ADDRESS = ipaddress.ip_address("100.96.0.2")
HOST_LOOPBACK = ipaddress.ip_address("127.0.0.1")
GUEST_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")

FIRST_VIRTIO_NET_FOR_POLICY = (1, 1, 3)
FIRST_HOST_LOOPBACK_FLOOR = (1, 20, 0)

# What became of a guest's connection attempt (Route.outcome).
NO_NETWORK = "no-network"            # the machine has no --net
GUEST_LOOPBACK_HIT = "guest-loopback"  # stayed inside the guest (virtio-net, 127/8)
BLOCKED_BY_POLICY = "blocked-by-policy"
BLOCKED_HOST_LOOPBACK = "blocked-host-loopback"
DIALLED = "dialled"                  # left the guest: the host connects to Route.host_address


class BackendRefused(ValueError):
    """`--net-backend tsi` together with an egress policy, refused from 1.1.3."""


def has_policy(allowed_cidrs):
    """An egress policy is in force only for a non-empty allowlist."""
    return bool(allowed_cidrs)


def backend_for(version, network, allowed_cidrs, requested=None):
    """The backend a machine boots with (None without networking)."""
    if not network:
        return None
    policy = has_policy(allowed_cidrs)
    if tuple(version) < FIRST_VIRTIO_NET_FOR_POLICY:
        return TSI if policy else (requested or TSI)
    if policy:
        if requested == TSI:
            raise BackendRefused("the TSI backend does not enforce an egress policy; "
                                 "use --net-backend virtio-net")
        return VIRTIO_NET
    return requested or TSI


def host_loopback_floored(version, allow_host_loopback=False):
    return tuple(version) >= FIRST_HOST_LOOPBACK_FLOOR and not allow_host_loopback


class Route:
    """Where a guest's TCP connection to `destination` goes."""

    def __init__(self, outcome, host_address=None):
        self.outcome = outcome
        self.host_address = host_address

    @property
    def leaves_guest(self):
        return self.outcome == DIALLED

    def __repr__(self):
        return f"Route({self.outcome!r}, {self.host_address!r})"

    def __eq__(self, other):
        return isinstance(other, Route) and (self.outcome, self.host_address) == (
            other.outcome, other.host_address)

    def __hash__(self):
        return hash((self.outcome, self.host_address))


def allowlist_allows(allowed_cidrs, address):
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed_cidrs)


def route(version, network, backend, allowed_cidrs, destination, allow_host_loopback=False):
    """The fate of a guest's connection to `destination` (an address string or object)."""
    address = ipaddress.ip_address(destination)
    if not network or backend is None:
        return Route(NO_NETWORK)
    if backend == TSI:
        return Route(DIALLED, address)
    if address in GUEST_LOOPBACK:
        return Route(GUEST_LOOPBACK_HIT)
    if has_policy(allowed_cidrs) and not allowlist_allows(allowed_cidrs, address):
        return Route(BLOCKED_BY_POLICY)
    if address == GATEWAY:
        if host_loopback_floored(version, allow_host_loopback):
            return Route(BLOCKED_HOST_LOOPBACK)
        return Route(DIALLED, HOST_LOOPBACK)
    return Route(DIALLED, address)
