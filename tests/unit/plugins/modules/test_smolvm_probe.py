# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.modules import smolvm_probe


class FakeGuest:
    """smolvm 1.32.2 with one running machine whose guest reaches only `open` (host, port)s."""

    def __init__(self, exe):
        self.exe = exe
        self.open = set()
        self.calls = []
        self.kwargs = []
        self.exec_rc = None

    def __call__(self, argv, **kwargs):
        self.calls.append(list(argv))
        self.kwargs.append(kwargs)
        if argv[1:] == ["--version"]:
            return 0, "smolvm 1.32.2\n", ""
        if argv[2] == "ls":
            return 0, json.dumps([{"name": "vm1", "state": "running", "pid": 7}]), ""
        if self.exec_rc is not None:
            return self.exec_rc, "", "sh: nc: not found\n"
        return (0 if (argv[-2], int(argv[-1])) in self.open else 1), "", ""

    def execs(self):
        return [c[6:] for c in self.calls if c[2:3] == ["exec"]]


@pytest.fixture
def guest(tmp_path, monkeypatch):
    exe = tmp_path / "smolvm"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    fake = FakeGuest(str(exe))
    monkeypatch.setattr(AnsibleModule, "run_command", lambda module, argv, **kwargs: fake(argv, **kwargs))
    return fake


def test_proves_confinement_and_changes_nothing_even_in_check_mode(guest, run_module):
    guest.open = {("198.18.0.16", 8080)}
    code, result = run_module(smolvm_probe, {
        "name": "vm1", "executable": guest.exe, "timeout": 5, "_ansible_check_mode": True,
        "reachable": [{"host": "198.18.0.16", "port": 8080}],
        "unreachable": [{"host": "100.96.0.1", "port": "22"}]})
    assert code == 0
    assert result["changed"] is False
    assert result["smolvm_version"] == "1.32.2"
    assert result["results"] == [
        {"host": "198.18.0.16", "port": 8080, "expected": "reachable", "reached": True, "rc": 0},
        {"host": "100.96.0.1", "port": 22, "expected": "unreachable", "reached": False, "rc": 1}]
    assert guest.execs() == [["nc", "-z", "-w", "5", "198.18.0.16", "8080"],
                             ["nc", "-z", "-w", "5", "100.96.0.1", "22"]]
    assert all(kw.get("expand_user_and_vars") is False for kw in guest.kwargs)


def test_timeout_is_the_probes_own(guest, run_module):
    code, result = run_module(smolvm_probe, {
        "name": "vm1", "executable": guest.exe, "timeout": 9, "db_timeout": 1,
        "unreachable": [{"host": "127.0.0.1", "port": 22}]})
    assert code == 0
    assert guest.execs() == [["nc", "-z", "-w", "9", "127.0.0.1", "22"]]


def test_lock_timeout_is_not_a_name_of_db_timeout(guest, run_module):
    """lock_timeout is the lease lock's wait (bottle_alias); here it would be a second meaning."""
    code, result = run_module(smolvm_probe, {
        "name": "vm1", "executable": guest.exe, "lock_timeout": 1,
        "unreachable": [{"host": "127.0.0.1", "port": 22}]})
    assert code == 1
    assert "lock_timeout" in result["msg"]
    assert guest.execs() == []


def test_a_target_that_answers_wrongly_fails_with_every_result(guest, run_module):
    guest.open = {("127.0.0.1", 22)}
    code, result = run_module(smolvm_probe, {
        "name": "vm1", "executable": guest.exe,
        "reachable": [{"host": "198.18.0.16", "port": 8080}],
        "unreachable": [{"host": "127.0.0.1", "port": 22}]})
    assert code == 1
    assert result["changed"] is False
    assert result["msg"] == (
        "the confinement of machine vm1 is not proven: 198.18.0.16:8080 did not answer within 3 s, "
        "but must be reachable; 127.0.0.1:22 answered, but must be unreachable")
    assert [r["reached"] for r in result["results"]] == [False, True]


def test_a_probe_that_proves_nothing_fails_closed(guest, run_module):
    guest.exec_rc = 127
    code, result = run_module(smolvm_probe, {
        "name": "vm1", "executable": guest.exe, "unreachable": [{"host": "127.0.0.1", "port": 22}]})
    assert code == 1
    assert "127.0.0.1:22 (unreachable) was not proven: `smolvm machine exec` exited 127" in result["msg"]
    assert "sh: nc: not found" in result["msg"]
    assert result["results"][0]["reached"] is None


@pytest.mark.parametrize("args, message", [
    ({"reachable": [{"host": "h"}]}, "missing required arguments: port"),
    ({"reachable": [{"host": "h", "port": "x"}]}, "port"),
    ({}, "reachable and unreachable are both empty"),
])
def test_bad_targets_are_refused_before_any_probe(guest, run_module, args, message):
    code, result = run_module(smolvm_probe, dict(args, name="vm1", executable=guest.exe))
    assert code == 1
    assert message in result["msg"]
    assert guest.execs() == []
