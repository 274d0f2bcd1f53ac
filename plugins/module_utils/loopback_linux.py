# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pool on Linux's loopback, two ways depending on where the pool lies.

- Inside 127.0.0.0/8 (the pool for TSI-era smolvm): the kernel routes the whole range to ``lo``
  through one route in its local table, so there is nothing to add. That route is read, never
  assumed: without it the pool addresses would not answer, and the module fails closed.
- Outside 127.0.0.0/8 (the pool for smolvm 1.1.3 and later, whose virtio-net guests keep their
  own 127/8): every address becomes an ``A/32`` on ``lo`` through iproute2, added and removed in
  one ``ip -4 -batch -`` and read from ``ip -j address show dev lo``.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import (
    STATES, AliasManager, LoopbackError, pool_result, check_interface, command_text, first_line,
    subprocess_runner,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult

FIB_TRIE_PATH = "/proc/net/fib_trie"
DEFAULT_INTERFACE = "lo"
LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")

# `ip -batch` names the failing line of its input as `Command failed -:3`.
_BATCH_FAILED_LINE = re.compile(r"^Command failed -:(?P<line>\d+)\s*$")


def pool_inside_loopback_net(pool) -> bool:
    """Whether the pool lies inside 127.0.0.0/8 (True) or wholly outside it (False)."""
    first, last = ipaddress.IPv4Address(str(pool.first)), ipaddress.IPv4Address(str(pool.last))
    if first in LOOPBACK_NET and last in LOOPBACK_NET:
        return True
    if last < LOOPBACK_NET.network_address or first > LOOPBACK_NET.broadcast_address:
        return False
    raise LoopbackError(f"the pool {pool.first}-{pool.last} lies partly inside 127.0.0.0/8 and "
                        f"partly outside it; a pool must lie wholly inside (the kernel already "
                        f"delivers it to lo) or wholly outside (each address is added to lo); "
                        f"change first or last")


# ---------------------------------------------------------------------------------------------
# Outside 127.0.0.0/8: /32 addresses through iproute2


class LinkAddresses:
    """What `ip -j address show dev IF` says about one interface."""

    def __init__(self, up: bool, flags, inet):
        self.up = up
        self.flags = list(flags)
        # (address, prefix length) pairs in the order ip shows them.
        self.inet = list(inet)

    def addresses(self) -> list[str]:
        return [address for address, _length in self.inet]


def parse_ip_addresses(output: str, interface: str) -> LinkAddresses:
    """The IPv4 addresses and the UP flag of `interface` from `ip -j address show dev IF`.

    Anything that is not the JSON iproute2 prints for one link (another link, no `addr_info`, an
    address that is not IPv4, a prefix length outside 0-32) raises LoopbackError rather than
    being read as "no addresses".
    """
    def unreadable(why):
        return LoopbackError(f"cannot read the addresses of {interface}: {why}")

    try:
        links = json.loads(output)
    except ValueError:
        raise unreadable(f"ip printed no JSON (first line: {first_line(output)!r}); "
                         f"method=linux needs iproute2's ip 4.14 or later (busybox ip has no "
                         f"-j)") from None
    if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
        raise unreadable(f"ip printed JSON that is not a list of links: {output.strip()[:200]}")
    named = [link for link in links if link.get("ifname") == interface]
    if len(named) != 1 or len(links) != 1:
        shown = [link.get("ifname") for link in links]
        raise unreadable(f"ip showed the links {shown}, not exactly one link named {interface}")
    link = named[0]
    flags = link.get("flags")
    addr_info = link.get("addr_info")
    if not isinstance(flags, list) or not isinstance(addr_info, list):
        raise unreadable(f"ip showed {interface} without a list of flags and addr_info: "
                         f"{json.dumps(link)[:200]}")
    inet = []
    for entry in addr_info:
        if not isinstance(entry, dict) or entry.get("family") != "inet":
            continue
        local, length = entry.get("local"), entry.get("prefixlen")
        try:
            address = str(ipaddress.IPv4Address(str(local)))
        except ValueError:
            raise unreadable(f"ip showed the inet address {local!r}, which is not an IPv4 "
                             f"address") from None
        if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 32:
            raise unreadable(f"ip showed {address} with the prefix length {length!r}")
        inet.append((address, length))
    return LinkAddresses("UP" in flags, flags, inet)


class IpAliases(AliasManager):
    """The pool as /32 addresses on one interface, read and changed through iproute2's ip."""

    method = "linux"
    default_interface = DEFAULT_INTERFACE
    tool = "ip"

    def __init__(self, pool, interface=None, ip_path=None, run=subprocess_runner, euid=None):
        super().__init__(pool, interface=interface, run=run, euid=euid)
        if not ip_path:
            raise LoopbackError(f"the pool {pool.first}-{pool.last} lies outside 127.0.0.0/8, so "
                                f"each address must be added to {self.interface} with iproute2's "
                                f"ip, and no ip command was found on PATH or in /sbin and "
                                f"/usr/sbin; install iproute2")
        self.path = ip_path
        self.link = None

    def read_argv(self) -> list[str]:
        return [self.path, "-j", "address", "show", "dev", self.interface]

    def read(self) -> list[str]:
        argv = self.read_argv()
        rc, out, err = self.run(argv)
        if rc != 0:
            raise LoopbackError(f"cannot read the addresses of {self.interface}: "
                                f"`{command_text(argv)}` failed (rc {rc}): "
                                f"{first_line(err or out)}; check the interface option "
                                f"(the loopback is lo on Linux)")
        self.link = parse_ip_addresses(out, self.interface)
        return self.link.addresses()

    def refuse(self, state, wanted):
        if state == "present" and not self.link.up:
            raise LoopbackError(
                f"{self.interface} is down (flags {','.join(self.link.flags) or 'none'}): an "
                f"address on it does not answer, so the pool cannot be proven present; bring it "
                f"up with `ip link set {self.interface} up` and run again",
                present=[], added=[], removed=[])
        if state == "absent":
            pool = set(wanted)
            wider = [f"{a}/{n}" for a, n in self.link.inet if a in pool and n != 32]
            if wider:
                raise LoopbackError(
                    f"{self.interface} holds pool addresses with another length than /32 "
                    f"({', '.join(wider)}); this module adds only /32s, and deleting a wider "
                    f"address can take other addresses with it; remove them yourself "
                    f"(`ip address del {wider[0]} dev {self.interface}`) and run again",
                    present=[a for a in wanted if a in self.link.addresses()],
                    added=[], removed=[])

    def batch_lines(self, addresses, adding: bool) -> list[str]:
        verb = "add" if adding else "del"
        return [f"address {verb} {a}/32 dev {self.interface}" for a in addresses]

    def apply(self, addresses, adding: bool) -> str | None:
        # One process for the whole pool (a pool may hold thousands of addresses); ip stops at
        # the first failing line, and the read-back says how far it got.
        lines = self.batch_lines(addresses, adding)
        argv = [self.path, "-4", "-batch", "-"]
        rc, out, err = self.run(argv, "\n".join(lines))
        if rc == 0:
            return None
        said = [line.strip() for line in (err or out or "").splitlines() if line.strip()]
        failed_at = [int(m.group("line")) for m in map(_BATCH_FAILED_LINE.match, said) if m]
        detail = "; ".join(line for line in said if not _BATCH_FAILED_LINE.match(line))
        detail = detail or "no output"
        if failed_at and 1 <= failed_at[0] <= len(lines):
            return (f"`{self.path} -4 {lines[failed_at[0] - 1]}` (line {failed_at[0]} of "
                    f"`{command_text(argv)}`) failed (rc {rc}): {detail}")
        return f"`{command_text(argv)}` with {len(lines)} commands failed (rc {rc}): {detail}"


# ---------------------------------------------------------------------------------------------
# Inside 127.0.0.0/8: the kernel's local route


def parse_local_routes(output: str) -> list[tuple[ipaddress.IPv4Network, str | None]]:
    """`local` routes from `ip -4 route show table local`: (network, device) pairs."""
    routes = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0] != "local":
            continue
        try:
            network = ipaddress.IPv4Network(fields[1], strict=False)
        except ValueError:
            continue
        device = None
        if "dev" in fields[2:]:
            at = fields.index("dev", 2)
            if at + 1 < len(fields):
                device = fields[at + 1]
        routes.append((network, device))
    return routes


def parse_fib_trie(text: str) -> list[ipaddress.IPv4Network]:
    """Host-scope LOCAL routes of the `Local:` table in /proc/net/fib_trie.

    A leaf is printed as `|-- 127.0.0.0` followed by one line per prefix, `/8 host LOCAL`.
    The file names no device; a LOCAL route is delivered through the loopback by definition.
    """
    networks = []
    in_local = False
    leaf = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            in_local = line.strip().rstrip(":") == "Local"
            leaf = None
            continue
        if not in_local:
            continue
        stripped = line.strip()
        if stripped.startswith("|--"):
            leaf = stripped[3:].strip()
            continue
        fields = stripped.split()
        if leaf and len(fields) >= 3 and fields[0].startswith("/") and fields[2] == "LOCAL":
            try:
                networks.append(ipaddress.IPv4Network(f"{leaf}{fields[0]}", strict=False))
            except ValueError:
                continue
    return networks


class LinuxLocalRoutes:
    """The kernel's local routes, from `ip` or, without it, from /proc/net/fib_trie."""

    def __init__(self, ip_path: str | None, run=subprocess_runner, fib_trie_path=FIB_TRIE_PATH):
        self.ip_path = ip_path
        self.run = run
        self.fib_trie_path = fib_trie_path

    def read(self) -> tuple[str | None, list[tuple[ipaddress.IPv4Network, str | None]], list[str]]:
        """(source, routes, problems): where the routes came from, or None and why not."""
        problems = []
        if self.ip_path:
            argv = [self.ip_path, "-4", "route", "show", "table", "local"]
            rc, out, err = self.run(argv)
            if rc == 0:
                return f"`{command_text(argv)}`", parse_local_routes(out), problems
            problems.append(f"`{command_text(argv)}` failed (rc {rc}): {first_line(err or out)}")
        else:
            problems.append("the ip command was not found")
        try:
            with open(self.fib_trie_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            problems.append(f"{self.fib_trie_path} cannot be read ({exc.strerror or exc})")
            return None, [], problems
        return self.fib_trie_path, [(n, None) for n in parse_fib_trie(text)], problems


class LocalRouteCheck:
    """A 127/8 pool on Linux: proves the kernel's local route delivers it; changes nothing."""

    method = "linux"

    def __init__(self, pool, interface=None, ip_path=None, run=subprocess_runner,
                 fib_trie_path=FIB_TRIE_PATH):
        self.pool = pool
        self.interface = check_interface(DEFAULT_INTERFACE if interface is None else interface)
        self.routes = LinuxLocalRoutes(ip_path, run, fib_trie_path)

    def _result(self, **kwargs) -> ModuleResult:
        return pool_result(method=self.method, interface=self.interface, pool=self.pool, **kwargs)

    def ensure(self, state="present", check_mode=False) -> ModuleResult:  # pylint: disable=unused-argument
        if state not in STATES:
            raise LoopbackError(f"state={state!r} is not one of {', '.join(STATES)}")
        source, routes, problems = self.routes.read()
        covering = None
        for network, device in routes:
            if (self.pool.first in network and self.pool.last in network
                    and device in (None, self.interface)):
                covering = (network, device)
                break
        pool_text = self.pool.describe()

        if covering:
            network, device = covering
            route = f"local {network}" + (f" dev {device}" if device else "")
            reason = (f"on Linux the kernel's local route `{route}` (read from {source}) "
                      f"already delivers the whole pool {pool_text} to {self.interface}")
            present = self.pool.addresses()
            if state == "present":
                msg = f"{reason}; there are no aliases to add"
            else:
                msg = (f"{reason}; these addresses are not aliases and cannot be removed one by "
                       f"one, so nothing was removed")
            return self._result(changed=False, present=present, added=[], removed=[], msg=msg,
                                before=present, after=present)

        if source is None:
            why = "; ".join(problems)
        else:
            local = ", ".join(f"{n}" + (f" dev {d}" if d else "") for n, d in routes) or "none"
            why = (f"{source} shows no local route on {self.interface} that covers it "
                   f"(local routes: {local})")
        if state == "absent":
            msg = (f"the pool {pool_text} is not delivered to {self.interface} ({why}); "
                   f"nothing to remove")
            return self._result(changed=False, present=[], added=[], removed=[], msg=msg,
                                before=[], after=[])
        elsewhere = sorted({d for n, d in routes
                            if d and self.pool.first in n and self.pool.last in n})
        if elsewhere:
            remedy = (f"a local route covers the pool on {', '.join(elsewhere)}, not on "
                      f"{self.interface}; leave interface unset on Linux (it defaults to lo) "
                      f"or set it to the device that route names")
        else:
            remedy = ("on Linux the kernel normally holds `local 127.0.0.0/8 dev lo` in its "
                      "local table; restore it with "
                      "`ip route add local 127.0.0.0/8 dev lo table local`")
        raise LoopbackError(
            f"cannot verify that the pool {pool_text} reaches {self.interface}: {why}; "
            f"refusing to report the pool as present; {remedy}",
            present=[], added=[], removed=[])


def linux_loopback(pool, interface=None, ip_path=None, run=subprocess_runner, euid=None,
                   fib_trie_path=FIB_TRIE_PATH):
    """The manager for `pool` on Linux: a route check inside 127/8, /32 addresses outside it."""
    if pool_inside_loopback_net(pool):
        return LocalRouteCheck(pool, interface=interface, ip_path=ip_path, run=run,
                               fib_trie_path=fib_trie_path)
    return IpAliases(pool, interface=interface, ip_path=ip_path, run=run, euid=euid)
