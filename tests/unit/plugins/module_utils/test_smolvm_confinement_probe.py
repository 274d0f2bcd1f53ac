# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ConfinementProbe against a fake smolvm whose guest answers per target."""

from __future__ import annotations

import json

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    MachineSpecError, SmolvmCli,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_probe import (
    ConfinementProbe, ProbeError, probe_words,
)

EXE = "/opt/smolvm/bin/smolvm"


class Guest:
    """`machine ls --json` shows one machine; `machine exec` answers from `answers`
    {(host, port): (rc, stderr)}, rc 1 for any other target."""

    def __init__(self, state="running", answers=None):
        self.state = state
        self.answers = answers or {}
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[2] == "ls":
            listed = [] if self.state is None else [{"name": "vm1", "state": self.state}]
            return 0, json.dumps(listed), ""
        assert argv[2:6] == ["exec", "--name", "vm1", "--"]
        command = argv[6:]
        rc, stderr = self.answers.get((command[-2], command[-1]), (1, ""))
        return rc, "", stderr

    def execs(self):
        return [argv[6:] for argv in self.calls if argv[2] == "exec"]


def probe(guest, **kwargs):
    return ConfinementProbe(SmolvmCli(EXE, guest, (1, 32, 2)), "vm1", **kwargs)


def test_reachable_and_unreachable_targets_are_proven_with_nc_in_order():
    guest = Guest(answers={("198.18.0.16", "8080"): (0, "")})
    results = probe(guest, reachable=[{"host": "198.18.0.16", "port": 8080}],
                    unreachable=[{"host": "100.96.0.1", "port": 22},
                                 {"host": "198.18.0.17", "port": "8080"}]).run()
    assert results == [
        {"host": "198.18.0.16", "port": 8080, "expected": "reachable", "reached": True, "rc": 0},
        {"host": "100.96.0.1", "port": 22, "expected": "unreachable", "reached": False, "rc": 1},
        {"host": "198.18.0.17", "port": 8080, "expected": "unreachable", "reached": False, "rc": 1},
    ]
    assert guest.execs() == [["nc", "-z", "-w", "3", "198.18.0.16", "8080"],
                             ["nc", "-z", "-w", "3", "100.96.0.1", "22"],
                             ["nc", "-z", "-w", "3", "198.18.0.17", "8080"]]


def test_every_wrong_answer_is_named_and_all_probes_still_run():
    guest = Guest(answers={("127.0.0.1", "22"): (0, "")})
    with pytest.raises(ProbeError) as caught:
        probe(guest, reachable=[{"host": "198.18.0.16", "port": 8080}],
              unreachable=[{"host": "127.0.0.1", "port": 22}], timeout=5).run()
    assert str(caught.value) == (
        "the confinement of machine vm1 is not proven: 198.18.0.16:8080 did not answer within "
        "5 s, but must be reachable; 127.0.0.1:22 answered, but must be unreachable")
    assert [r["reached"] for r in caught.value.results] == [False, True]


@pytest.mark.parametrize("rc, stderr", [
    (127, "sh: nc: not found"),
    (2, ""),
    (1, "Error: agent operation failed: connect: agent did not respond"),
    (1, "Error: database error: database is locked"),
])
def test_an_answer_that_proves_nothing_fails_closed_naming_target_rc_and_stderr(rc, stderr):
    guest = Guest(answers={("198.18.0.17", "8080"): (rc, stderr + "\n")})
    with pytest.raises(ProbeError) as caught:
        probe(guest, unreachable=[{"host": "198.18.0.17", "port": 8080}]).run()
    said = stderr or "(nothing on stderr)"
    assert str(caught.value) == (
        f"the confinement of machine vm1 is not proven: 198.18.0.17:8080 (unreachable) was not "
        f"proven: `smolvm machine exec` exited {rc}, which is neither 0 (connected) nor 1 (not "
        f"connected): {said}")
    assert caught.value.results == [{"host": "198.18.0.17", "port": 8080, "expected": "unreachable",
                                     "reached": None, "rc": rc}]


@pytest.mark.parametrize("state, message", [
    (None, "machine vm1 is not listed by `smolvm machine ls --json`"),
    ("stopped", "machine vm1 is 'stopped', not 'running'"),
])
def test_a_machine_that_does_not_run_is_not_probed(state, message):
    guest = Guest(state=state)
    with pytest.raises(ProbeError) as caught:
        probe(guest, unreachable=[{"host": "127.0.0.1", "port": 22}]).run()
    assert str(caught.value).startswith(message)
    assert guest.execs() == []


@pytest.mark.parametrize("kwargs, message", [
    ({}, "reachable and unreachable are both empty"),
    ({"reachable": [{"host": "-e", "port": 1}]}, "reachable entry {'host': '-e', 'port': 1}: host '-e'"),
    ({"reachable": [{"host": "a b", "port": 1}]}, "host 'a b' is not an address or a host name"),
    ({"unreachable": [{"host": "h", "port": 0}]}, "port 0 is not a TCP port from 1 to 65535"),
    ({"unreachable": [{"host": "h", "port": 65536}]}, "port 65536 is not a TCP port"),
    ({"unreachable": [{"host": "h", "port": True}]}, "port True is not a TCP port"),
    ({"unreachable": ["h:1"]}, "unreachable entry 'h:1' is not a dict with the keys host and port"),
    ({"unreachable": [{"host": "h", "port": 1, "x": 2}]}, "is not a dict with the keys host and port"),
    ({"reachable": [{"host": "h", "port": 1}], "unreachable": [{"host": "h", "port": 1}]},
     "h:1 is listed as both reachable and unreachable"),
    ({"reachable": [{"host": "h", "port": 1}], "timeout": 0}, "timeout=0 is not a positive number"),
    ({"reachable": [{"host": "h", "port": 1}], "probe_command": ["nc", "-z", "{host}"]},
     "must contain {host} and {port}"),
])
def test_bad_inputs_are_refused_before_anything_runs(kwargs, message):
    guest = Guest()
    with pytest.raises(MachineSpecError) as caught:
        probe(guest, **kwargs)
    assert message in str(caught.value)
    assert guest.calls == []


def test_only_the_three_placeholders_are_replaced():
    assert probe_words(["sh", "-c", "{host}:{port} {timeout} {0} {host.__class__}"], "h", 80, 2.5) == [
        "sh", "-c", "h:80 2.5 {0} {host.__class__}"]


def test_a_custom_probe_command_runs_as_an_argv_list():
    guest = Guest(answers={("198.18.0.16", "8080"): (0, "")})
    probe(guest, reachable=[{"host": "198.18.0.16", "port": 8080}], timeout=7,
          probe_command=["busybox", "nc", "-z", "-w", "{timeout}", "{host}", "{port}"]).run()
    assert guest.execs() == [["busybox", "nc", "-z", "-w", "7", "198.18.0.16", "8080"]]
