# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runtime proof of confinement: from inside a running guest, connect to each target and
compare with what must (not) answer.

A probe proves something only by its exit code: 0 = connected, 1 = not connected. Anything else,
or smolvm's own `Error: ...` (a refused exec also exits 1), proves nothing and fails closed.
"""

from __future__ import annotations

import re

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    DB_LOCKED, MachineSpecError, SmolvmError, validate_name,
)

DEFAULT_PROBE_COMMAND = ("nc", "-z", "-w", "{timeout}", "{host}", "{port}")
DEFAULT_TIMEOUT = 3
REACHABLE = "reachable"
UNREACHABLE = "unreachable"

# A host name or an IPv4/IPv6 address: nothing a guest command would read as an option or split.
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:][A-Za-z0-9_.:-]*$")
# How smolvm reports its own failure (exit 1, like a probe that did not connect).
_SMOLVM_ERROR_RE = re.compile(r"^Error: ", re.MULTILINE)


class ProbeError(SmolvmError):
    """The confinement was not proven; `results` holds every probe that ran."""

    def __init__(self, message, results=None, **facts):
        self.results = list(results or [])
        super().__init__(message, results=self.results, **facts)


def parse_targets(option, entries):
    """[(host, port)] from a list of {host, port}; a clear error naming the bad entry."""
    targets = []
    for entry in entries or []:
        if not isinstance(entry, dict) or set(entry) - {"host", "port"}:
            raise MachineSpecError(
                f"{option} entry {entry!r} is not a dict with the keys host and port; "
                f"expected e.g. {{host: 198.18.0.16, port: 8080}}")
        host, port = entry.get("host"), entry.get("port")
        if not isinstance(host, str) or not _HOST_RE.match(host):
            raise MachineSpecError(
                f"{option} entry {entry!r}: host {host!r} is not an address or a host name")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise MachineSpecError(
                f"{option} entry {entry!r}: port {port!r} is not a TCP port from 1 to 65535")
        targets.append((host, port))
    return targets


def probe_words(template, host, port, timeout):
    """The probe command for one target: {host}, {port} and {timeout} replaced, nothing else."""
    values = {"{host}": host, "{port}": str(port), "{timeout}": f"{timeout:g}"}
    words = []
    for word in template:
        for placeholder, value in values.items():
            word = word.replace(placeholder, value)
        words.append(word)
    return words


class ConfinementProbe:
    """Run the probe command in machine `name` for each target; run() returns the results or
    raises ProbeError naming every target that was not as expected or could not be proven."""

    def __init__(self, cli, name, reachable=None, unreachable=None, timeout=DEFAULT_TIMEOUT,
                 probe_command=DEFAULT_PROBE_COMMAND):
        self.cli = cli
        self.name = validate_name(name)
        self.targets = ([(host, port, REACHABLE) for host, port in parse_targets("reachable", reachable)]
                        + [(host, port, UNREACHABLE)
                           for host, port in parse_targets("unreachable", unreachable)])
        if not self.targets:
            raise MachineSpecError("reachable and unreachable are both empty: there is nothing to probe")
        both = {(h, p) for h, p, e in self.targets if e == REACHABLE} & {
            (h, p) for h, p, e in self.targets if e == UNREACHABLE}
        if both:
            raise MachineSpecError(
                f"{', '.join(f'{h}:{p}' for h, p in sorted(both))} is listed as both reachable and "
                f"unreachable")
        if not is_seconds(timeout):
            raise MachineSpecError(f"timeout={timeout!r} is not a positive number of seconds; expected e.g. 3")
        self.timeout = timeout
        self.template = [str(word) for word in (probe_command or [])]
        joined = " ".join(self.template)
        if "{host}" not in joined or "{port}" not in joined:
            raise MachineSpecError(
                f"probe_command {self.template!r} must contain {{host}} and {{port}}, or every "
                f"probe would run the same command and prove nothing about its target")

    def run(self):
        machine = self.cli.get_machine(self.name)
        if machine is None:
            raise ProbeError(f"machine {self.name} is not listed by `smolvm machine ls --json`; "
                             f"create and start it before probing it", argv=self.cli.list_argv())
        if machine.get("state") != "running":
            raise ProbeError(f"machine {self.name} is {machine.get('state')!r}, not 'running'; a "
                             f"probe needs a running guest; start it first", argv=self.cli.list_argv())
        results, problems = [], []
        for host, port, expected in self.targets:
            argv = self.cli.exec_argv(self.name, probe_words(self.template, host, port, self.timeout))
            rc, _out, err = self.cli.try_run(argv)
            proves = rc == 0 or (rc == 1 and not _SMOLVM_ERROR_RE.search(err or "")
                                 and DB_LOCKED not in (err or ""))
            reached = (rc == 0) if proves else None
            results.append(dict(host=host, port=port, expected=expected, reached=reached, rc=rc))
            if not proves:
                said = (err or "").strip() or "(nothing on stderr)"
                problems.append(f"{host}:{port} ({expected}) was not proven: `smolvm machine exec` "
                                f"exited {rc}, which is neither 0 (connected) nor 1 (not "
                                f"connected): {said}")
            elif reached and expected == UNREACHABLE:
                problems.append(f"{host}:{port} answered, but must be unreachable")
            elif not reached and expected == REACHABLE:
                problems.append(f"{host}:{port} did not answer within {self.timeout:g} s, but "
                                f"must be reachable")
        if problems:
            raise ProbeError(
                f"the confinement of machine {self.name} is not proven: {'; '.join(problems)}",
                results=results)
        return results
