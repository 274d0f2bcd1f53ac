# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loopback aliases through a BSD-style ifconfig (macOS, FreeBSD, OpenBSD, NetBSD).

Only 127.0.0.1 lives on lo0 after boot, so every pool address becomes an ``A/32`` alias, added
with ``ifconfig lo0 alias A/32 up`` and removed with ``ifconfig lo0 -alias A``. Present aliases
are read from ``ifconfig lo0`` by exact address (127.0.0.1 is not 127.0.0.16).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import (
    AliasManager, LoopbackError, command_text, first_line, subprocess_runner,
)

# `lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384`: every BSD-style ifconfig opens an
# interface's block this way, and only there does a line start without indentation.
_IFCONFIG_HEADER = re.compile(r"^(?P<name>[^\s:]+): flags=")
_IFCONFIG_INET = re.compile(r"^\s+inet\s+(?P<address>\S+)")


def parse_ifconfig(output: str, interface: str) -> list[str]:
    """The IPv4 addresses `ifconfig <interface>` shows for `interface`, in the order shown.

    Only `inet` lines count (never `inet6`), each address is parsed as a whole, and only the
    block of `interface` is read. Output that does not look like BSD ifconfig's (Linux net-tools
    prints `lo: flags=... inet 127.0.0.1  netmask 255.0.0.0` under another header, for example)
    raises LoopbackError rather than being read as "no aliases".
    """
    addresses = []
    seen_block = False
    in_block = False
    for line in output.splitlines():
        if not line.strip():
            continue
        header = _IFCONFIG_HEADER.match(line)
        if header:
            in_block = header.group("name") == interface
            seen_block = seen_block or in_block
            continue
        if not line[0].isspace():
            in_block = False
            continue
        if not in_block:
            continue
        inet = _IFCONFIG_INET.match(line)
        if not inet:
            continue
        # Some FreeBSD releases print `inet 127.0.0.16/32` instead of a separate netmask.
        token = inet.group("address").split("/", 1)[0]
        try:
            addresses.append(str(ipaddress.IPv4Address(token)))
        except ValueError:
            raise LoopbackError(f"cannot read the addresses of {interface}: the line "
                                f"{line.strip()!r} does not hold an IPv4 address where BSD "
                                f"ifconfig prints one; is this a BSD-style ifconfig?") from None
    if not seen_block:
        raise LoopbackError(f"cannot read the addresses of {interface}: ifconfig printed no "
                            f"'{interface}: flags=...' block (first line: "
                            f"{first_line(output)!r}); method=ifconfig needs the BSD/macOS "
                            f"ifconfig, set ifconfig_path to it or use method=linux on Linux")
    return addresses


class IfconfigAliases(AliasManager):
    """The pool as /32 aliases on one interface, read and changed through ifconfig."""

    method = "ifconfig"
    default_interface = "lo0"
    tool = "ifconfig"

    def __init__(self, pool, interface=None, ifconfig_path=None, run=subprocess_runner,
                 euid=None):
        super().__init__(pool, interface=interface, run=run, euid=euid)
        if not ifconfig_path:
            raise LoopbackError("method=ifconfig needs the ifconfig command, and none was found "
                                "on PATH or in /sbin and /usr/sbin; set ifconfig_path")
        self.path = ifconfig_path

    def read(self) -> list[str]:
        argv = [self.path, self.interface]
        rc, out, err = self.run(argv)
        if rc != 0:
            raise LoopbackError(f"cannot read the addresses of {self.interface}: "
                                f"`{command_text(argv)}` failed (rc {rc}): "
                                f"{first_line(err or out)}; check the interface option "
                                f"(the loopback is lo0 on macOS and the BSDs)")
        return parse_ifconfig(out, self.interface)

    def add_argv(self, address: str) -> list[str]:
        return [self.path, self.interface, "alias", f"{address}/32", "up"]

    def remove_argv(self, address: str) -> list[str]:
        return [self.path, self.interface, "-alias", address]

    def apply(self, addresses, adding: bool) -> str | None:
        # One command per alias, stopping at the first failure: the read-back then says how far
        # it got.
        for address in addresses:
            argv = self.add_argv(address) if adding else self.remove_argv(address)
            rc, out, err = self.run(argv)
            if rc != 0:
                return f"`{command_text(argv)}` failed (rc {rc}): {first_line(err or out)}"
        return None
