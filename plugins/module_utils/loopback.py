# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loopback aliases for the pool, the part every platform shares.

The platforms themselves live beside this file: loopback_bsd (``ifconfig lo0 alias``, macOS and
the BSDs) and loopback_linux (``ip address add A/32 dev lo``, or for a pool inside 127.0.0.0/8
only a check of the kernel's local route). Both alias methods go through AliasManager here: read
the interface once, compute the difference, act only outside check mode, read back, report.
"""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import subprocess

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult

METHODS = ("auto", "ifconfig", "linux")
STATES = ("present", "absent")

# IFNAMSIZ is 16 with the terminating NUL. A leading dash would make ifconfig or ip read the name
# as an option, so names start with a letter or digit.
_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")

# How many address runs a message lists before it says how many more there are.
_MESSAGE_RUNS = 4


class LoopbackError(BottleError):
    """The pool cannot be put in place (or verified); `facts` go into the failed result."""


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
                        f"or method=linux if it has iproute2's ip")


def check_interface(interface: str) -> str:
    if not _INTERFACE_NAME.match(interface or ""):
        raise LoopbackError(f"interface={interface!r} is not an interface name; expected a name "
                            f"such as lo or lo0 (letters, digits, '_', '.', '-', at most 15 "
                            f"characters)")
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


def count_aliases(n: int) -> str:
    return f"{n} alias" if n == 1 else f"{n} aliases"


def subprocess_runner(argv, data=None):
    """Run argv without a shell, `data` on stdin; (rc, stdout, stderr). Modules pass a wrapper
    of module.run_command instead."""
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env,
                              check=False)
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def command_text(argv) -> str:
    return " ".join(argv)


def first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def pool_result(*, changed, method, interface, pool, present, added, removed, msg, before, after,
                warnings=()) -> ModuleResult:
    """What loopback_pool returns; the diff is the interface's pool aliases before and after."""
    return ModuleResult(
        changed,
        diff=dict(before=dict(interface=interface, aliases=list(before)),
                  after=dict(interface=interface, aliases=list(after))),
        warnings=warnings,
        method=method,
        interface=interface,
        pool=dict(first=str(pool.first), last=str(pool.last), size=len(pool)),
        present=list(present),
        added=list(added),
        removed=list(removed),
        msg=msg,
    )


class AliasManager:
    """Puts a pool on an interface as one /32 alias per address (or takes it off).

    A platform subclass says how to read the interface (`read`), how to change it (`apply`) and
    what it refuses to work on (`refuse`); the decisions, the privilege check, check mode, the
    read-back and the messages are the same for every platform and live here.
    """

    method = None
    default_interface = None
    tool = None

    def __init__(self, pool, interface=None, run=subprocess_runner, euid=None):
        self.pool = pool
        self.interface = check_interface(self.default_interface if interface is None
                                         else interface)
        self.run = run
        self.euid = effective_uid() if euid is None else euid

    def read(self) -> list[str]:
        """The IPv4 addresses on the interface; raises LoopbackError when it cannot tell."""
        raise NotImplementedError

    def apply(self, addresses, adding: bool) -> str | None:
        """Add (or remove) `addresses`; None on success, else what failed and why."""
        raise NotImplementedError

    def refuse(self, state: str, wanted: list[str]) -> None:
        """Raise LoopbackError when the interface as last read cannot hold the wanted state."""

    def _result(self, **kwargs) -> ModuleResult:
        return pool_result(method=self.method, interface=self.interface, pool=self.pool, **kwargs)

    def ensure(self, state="present", check_mode=False) -> ModuleResult:
        if state not in STATES:
            raise LoopbackError(f"state={state!r} is not one of {', '.join(STATES)}")
        on_interface = set(self.read())
        wanted = self.pool.addresses()
        self.refuse(state, wanted)
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

        adding = bool(to_add)
        changes = to_add or to_remove
        verb, doing, done_verb, preposition = (("add", "adding", "added", "to") if adding
                                               else ("remove", "removing", "removed", "from"))
        predicted = wanted if state == "present" else []
        warnings = []
        if self.euid != 0:
            privilege = (f"{doing} {count_aliases(len(changes))} ({summarize(changes)}) "
                         f"{preposition} {self.interface} needs root, and this module runs as "
                         f"uid {self.euid}; run the task with become: true "
                         f"(the module never calls sudo itself)")
            if not check_mode:
                raise LoopbackError(privilege, present=present, added=[], removed=[])
            warnings.append(privilege)

        if check_mode:
            msg = (f"would {verb} {count_aliases(len(changes))} {preposition} {self.interface}: "
                   f"{summarize(changes)} (check mode, nothing changed)")
            return self._result(changed=True, present=present, added=to_add, removed=to_remove,
                                msg=msg, before=present, after=predicted, warnings=warnings)

        failure = self.apply(changes, adding)
        try:
            after_interface = set(self.read())
        except LoopbackError as exc:
            attempt = (f"{failure}, and then" if failure
                       else f"{done_verb} {count_aliases(len(changes))} "
                            f"({summarize(changes)}), but then")
            raise LoopbackError(f"{attempt} {exc}", changed=True, present=present,
                                added=to_add, removed=to_remove) from None
        # What the interface shows changed, whatever the tool said.
        done = [a for a in changes if (a in after_interface) == adding]
        after = [a for a in wanted if a in after_interface]
        done_facts = dict(changed=bool(done), present=present,
                          added=done if adding else [], removed=[] if adding else done)
        if failure:
            so_far = (f"reading {self.interface} back shows {count_aliases(len(done))} "
                      f"{done_verb} ({summarize(done)})" if done
                      else f"nothing was {done_verb}")
            raise LoopbackError(f"{failure}; {so_far}; fix the cause and run again (what was "
                                f"already {done_verb} stays {done_verb})", **done_facts)
        unproven = [a for a in changes if a not in done]
        if unproven:
            raise LoopbackError(
                f"{self.tool} reported success, but reading {self.interface} back shows "
                f"{count_aliases(len(unproven))} still {'missing' if adding else 'present'}: "
                f"{summarize(unproven)}; the pool is not "
                f"{'in place' if adding else 'removed'}", **done_facts)
        msg = (f"{done_verb} {count_aliases(len(done))} {preposition} {self.interface}: "
               f"{summarize(done)}")
        return self._result(changed=True, present=present, added=to_add, removed=to_remove,
                            msg=msg, before=present, after=after, warnings=warnings)
