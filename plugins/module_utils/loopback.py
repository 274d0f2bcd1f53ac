# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loopback aliases for the pool: read what the interface holds, then add or remove the difference.

Two methods:

- ``ifconfig`` (macOS, the BSDs): only 127.0.0.1 lives on lo0 after boot, so every pool address
  becomes an ``A/32`` alias. Present aliases are read from ``ifconfig <if>`` by exact address
  (127.0.0.1 is not 127.0.0.16), changed with ``ifconfig <if> alias A/32 up`` and
  ``ifconfig <if> -alias A``, and read back afterwards.
- ``linux``: the kernel routes the whole of 127.0.0.0/8 to ``lo`` through one route in its local
  table, so there is nothing to add. That route is read, never assumed: without it the pool
  addresses would not answer, and the module fails closed.
"""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import subprocess

METHODS = ("auto", "ifconfig", "linux")
STATES = ("present", "absent")
DEFAULT_INTERFACES = {"ifconfig": "lo0", "linux": "lo"}
FIB_TRIE_PATH = "/proc/net/fib_trie"

# IFNAMSIZ is 16 with the terminating NUL. A leading dash would make ifconfig read the name as an
# option (`ifconfig -a`), so names start with a letter or digit.
_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")

# `lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384`: every BSD-style ifconfig opens an
# interface's block this way, and only there does a line start without indentation.
_IFCONFIG_HEADER = re.compile(r"^(?P<name>[^\s:]+): flags=")
_IFCONFIG_INET = re.compile(r"^\s+inet\s+(?P<address>\S+)")

# How many address runs a message lists before it says how many more there are.
_MESSAGE_RUNS = 4


class LoopbackError(Exception):
    """The pool cannot be put in place (or verified); `facts` go into the failed result."""

    def __init__(self, msg: str, **facts):
        super().__init__(msg)
        self.facts = facts


def system_name() -> str:
    return platform.system()


def effective_uid() -> int:
    return os.geteuid()


def resolve_method(method: str, system: str | None = None) -> str:
    """The method to use: `method` itself, or for `auto` the one the platform needs."""
    if method not in METHODS:
        raise LoopbackError(f"method={method!r} is not one of {', '.join(METHODS)}")
    if method != "auto":
        return method
    system = system_name() if system is None else system
    if system == "Linux":
        return "linux"
    if system == "Darwin" or system.endswith("BSD"):
        return "ifconfig"
    raise LoopbackError(f"no loopback method is known for the platform {system!r}; "
                        f"set method=ifconfig if its ifconfig prints BSD-style output, "
                        f"or method=linux if its kernel routes 127.0.0.0/8 to the loopback")


def check_interface(interface: str) -> str:
    if not _INTERFACE_NAME.match(interface or ""):
        raise LoopbackError(f"interface={interface!r} is not an interface name; expected a name "
                            f"such as lo0 (letters, digits, '_', '.', '-', at most 15 characters)")
    return interface


def summarize(addresses) -> str:
    """Addresses as runs of consecutive values: `127.0.0.16-127.0.0.20, 127.0.0.25`."""
    values = sorted({int(ipaddress.IPv4Address(a)) for a in addresses})
    runs = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    text = [str(ipaddress.IPv4Address(lo)) if lo == hi
            else f"{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}"
            for lo, hi in runs[:_MESSAGE_RUNS]]
    if len(runs) > _MESSAGE_RUNS:
        text.append(f"and {len(runs) - _MESSAGE_RUNS} more ranges")
    return ", ".join(text)


def _count(n: int) -> str:
    return f"{n} alias" if n == 1 else f"{n} aliases"


def subprocess_runner(argv):
    """Run argv without a shell; (rc, stdout, stderr). Modules pass module.run_command instead."""
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def _command(argv) -> str:
    return " ".join(argv)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no output"


# ---------------------------------------------------------------------------------------------
# ifconfig


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
        token = inet.group("address")
        # Some FreeBSD releases print `inet 127.0.0.16/32` instead of a separate netmask.
        token = token.split("/", 1)[0]
        try:
            addresses.append(str(ipaddress.IPv4Address(token)))
        except ValueError:
            raise LoopbackError(f"cannot read the addresses of {interface}: the line "
                                f"{line.strip()!r} does not hold an IPv4 address where BSD "
                                f"ifconfig prints one; is this a BSD-style ifconfig?") from None
    if not seen_block:
        raise LoopbackError(f"cannot read the addresses of {interface}: ifconfig printed no "
                            f"'{interface}: flags=...' block (first line: "
                            f"{_first_line(output)!r}); method=ifconfig needs the BSD/macOS "
                            f"ifconfig, set ifconfig_path to it or use method=linux on Linux")
    return addresses


class Ifconfig:
    """One interface, read and changed through a BSD-style ifconfig."""

    def __init__(self, path: str, interface: str, run=subprocess_runner):
        self.path = path
        self.interface = interface
        self.run = run

    def read(self) -> list[str]:
        argv = [self.path, self.interface]
        rc, out, err = self.run(argv)
        if rc != 0:
            raise LoopbackError(f"cannot read the addresses of {self.interface}: "
                                f"`{_command(argv)}` failed (rc {rc}): "
                                f"{_first_line(err or out)}; check the interface option "
                                f"(the loopback is lo0 on macOS and the BSDs)")
        return parse_ifconfig(out, self.interface)

    def add_argv(self, address: str) -> list[str]:
        return [self.path, self.interface, "alias", f"{address}/32", "up"]

    def remove_argv(self, address: str) -> list[str]:
        return [self.path, self.interface, "-alias", address]

    def change(self, argv) -> tuple[int, str]:
        rc, out, err = self.run(argv)
        return rc, _first_line(err or out)


# ---------------------------------------------------------------------------------------------
# Linux: the kernel's local route


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
                return f"`{_command(argv)}`", parse_local_routes(out), problems
            problems.append(f"`{_command(argv)}` failed (rc {rc}): {_first_line(err or out)}")
        else:
            problems.append("the ip command was not found")
        try:
            with open(self.fib_trie_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            problems.append(f"{self.fib_trie_path} cannot be read ({exc.strerror or exc})")
            return None, [], problems
        return self.fib_trie_path, [(n, None) for n in parse_fib_trie(text)], problems


# ---------------------------------------------------------------------------------------------
# The manager


class PoolResult:
    """What loopback_pool reports; `as_dict` shapes it for exit_json."""

    def __init__(self, *, changed, method, interface, pool, present, added, removed, msg,
                 before, after, warnings=()):
        self.changed = changed
        self.method = method
        self.interface = interface
        self.pool = pool
        self.present = present
        self.added = added
        self.removed = removed
        self.msg = msg
        self.before = before
        self.after = after
        self.warnings = list(warnings)

    def as_dict(self, diff: bool = False) -> dict:
        result = dict(
            changed=self.changed,
            method=self.method,
            interface=self.interface,
            pool=dict(first=str(self.pool.first), last=str(self.pool.last), size=len(self.pool)),
            present=list(self.present),
            added=list(self.added),
            removed=list(self.removed),
            msg=self.msg,
        )
        if diff:
            result["diff"] = dict(
                before=dict(interface=self.interface, aliases=list(self.before)),
                after=dict(interface=self.interface, aliases=list(self.after)),
            )
        return result


class LoopbackPool:
    """Puts an AliasPool on the loopback interface (or takes it off): read once, compute the
    difference, act only outside check mode, read back, report.
    """

    def __init__(self, pool, method="auto", interface=None, ifconfig_path=None, ip_path=None,
                 run=subprocess_runner, euid=None, system=None, fib_trie_path=FIB_TRIE_PATH):
        self.pool = pool
        self.method = resolve_method(method, system)
        self.interface = check_interface(DEFAULT_INTERFACES[self.method] if interface is None
                                         else interface)
        self.ifconfig_path = ifconfig_path
        self.ip_path = ip_path
        self.run = run
        self.euid = effective_uid() if euid is None else euid
        self.fib_trie_path = fib_trie_path

    def ensure(self, state="present", check_mode=False) -> PoolResult:
        if state not in STATES:
            raise LoopbackError(f"state={state!r} is not one of {', '.join(STATES)}")
        if self.method == "linux":
            return self._ensure_linux(state)
        return self._ensure_ifconfig(state, check_mode)

    def _result(self, **kwargs) -> PoolResult:
        return PoolResult(method=self.method, interface=self.interface, pool=self.pool, **kwargs)

    # -- ifconfig ----------------------------------------------------------------------------

    def _ensure_ifconfig(self, state, check_mode) -> PoolResult:
        if not self.ifconfig_path:
            raise LoopbackError("method=ifconfig needs the ifconfig command, and none was found "
                                "on PATH or in /sbin and /usr/sbin; set ifconfig_path")
        ifconfig = Ifconfig(self.ifconfig_path, self.interface, self.run)
        on_interface = set(ifconfig.read())
        wanted = self.pool.addresses()
        present = [a for a in wanted if a in on_interface]
        if state == "present":
            to_add, to_remove = [a for a in wanted if a not in on_interface], []
        else:
            to_add, to_remove = [], present
        pool_text = self.pool.describe()

        if not to_add and not to_remove:
            if state == "present":
                msg = f"the whole pool {pool_text} is on {self.interface} already"
            else:
                msg = f"none of the pool {pool_text} is on {self.interface}; nothing to remove"
            return self._result(changed=False, present=present, added=[], removed=[], msg=msg,
                                before=present, after=present)

        changes = to_add or to_remove
        verb, doing, done_verb, preposition = (("add", "adding", "added", "to") if to_add
                                               else ("remove", "removing", "removed", "from"))
        predicted = wanted if state == "present" else []
        warnings = []
        if self.euid != 0:
            privilege = (f"{doing} {_count(len(changes))} ({summarize(changes)}) "
                         f"{preposition} {self.interface} needs root, and this module runs as "
                         f"uid {self.euid}; run the task with become: true "
                         f"(the module never calls sudo itself)")
            if not check_mode:
                raise LoopbackError(privilege, present=present, added=[], removed=[])
            warnings.append(privilege)

        if check_mode:
            msg = (f"would {verb} {_count(len(changes))} {preposition} {self.interface}: "
                   f"{summarize(changes)} (check mode, nothing changed)")
            return self._result(changed=True, present=present, added=to_add, removed=to_remove,
                                msg=msg, before=present, after=predicted, warnings=warnings)

        done = []
        for address in changes:
            argv = ifconfig.add_argv(address) if to_add else ifconfig.remove_argv(address)
            rc, detail = ifconfig.change(argv)
            if rc != 0:
                so_far = (f"{_count(len(done))} {'were' if len(done) != 1 else 'was'} "
                          f"{done_verb} before it ({summarize(done)})" if done
                          else f"nothing was {done_verb}")
                raise LoopbackError(
                    f"`{_command(argv)}` failed (rc {rc}): {detail}; {so_far}; fix the cause "
                    f"and run again (what was already {done_verb} stays {done_verb})",
                    changed=bool(done), present=present,
                    added=done if to_add else [], removed=done if to_remove else [])
            done.append(address)

        done_facts = dict(changed=True, present=present,
                          added=done if to_add else [], removed=done if to_remove else [])
        try:
            after_interface = set(ifconfig.read())
        except LoopbackError as exc:
            raise LoopbackError(f"{done_verb} {_count(len(done))} ({summarize(done)}), but then "
                                f"{exc}", **done_facts) from None
        after = [a for a in wanted if a in after_interface]
        if to_add:
            unproven = [a for a in to_add if a not in after_interface]
        else:
            unproven = [a for a in to_remove if a in after_interface]
        if unproven:
            raise LoopbackError(
                f"ifconfig reported success, but reading {self.interface} back shows "
                f"{_count(len(unproven))} still {'missing' if to_add else 'present'}: "
                f"{summarize(unproven)}; the pool is not "
                f"{'in place' if to_add else 'removed'}", **done_facts)
        msg = (f"{done_verb} {_count(len(done))} {preposition} {self.interface}: "
               f"{summarize(done)}")
        return self._result(changed=True, present=present, added=to_add, removed=to_remove,
                            msg=msg, before=present, after=after, warnings=warnings)

    # -- linux -------------------------------------------------------------------------------

    def _ensure_linux(self, state) -> PoolResult:
        source, routes, problems = LinuxLocalRoutes(self.ip_path, self.run,
                                                    self.fib_trie_path).read()
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
