# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bot_bottle.smolmachines.plugins.modules import smolvm_machine


class FakeRun:
    """Stands in for AnsibleModule.run_command: a tiny smolvm with machines in a dict."""

    def __init__(self, version="0.8.0"):
        self.version = version
        self.machines = {}
        self.calls = []
        self.kwargs = []
        self.fail = {}

    def __call__(self, argv, **kwargs):
        self.calls.append(list(argv))
        self.kwargs.append(kwargs)
        if argv[1:] == ["--version"]:
            return 0, f"smolvm {self.version}\n", ""
        sub = argv[2]
        if sub in self.fail:
            return 1, "", self.fail[sub]
        if sub == "ls":
            return 0, json.dumps(list(self.machines.values())), ""
        name = argv[argv.index("--name") + 1] if "--name" in argv else argv[3]
        if sub == "create":
            self.machines[name] = {"name": name, "state": "created", "cpus": 1,
                                   "memory_mib": 512, "network": "--net" in argv, "image": None}
        elif sub == "start":
            self.machines[name]["state"] = "running"
        elif sub == "stop":
            self.machines[name]["state"] = "stopped"
        elif sub == "delete":
            self.machines.pop(name)
        return 0, "", ""

    def changing(self):
        return [c for c in self.calls if c[1:] != ["--version"] and c[2:] != ["ls", "--json"]]


@pytest.fixture
def smolvm(tmp_path, monkeypatch):
    exe = tmp_path / "smolvm"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    fake = FakeRun()
    fake.exe = str(exe)
    monkeypatch.setattr(AnsibleModule, "run_command",
                        lambda module, argv, **kwargs: fake(argv, **kwargs))
    return fake


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            smolvm_machine.main()
    result = json.loads(capsys.readouterr().out)
    return caught.value.code, result


def warning_texts(result):
    """Warnings are plain strings before ansible-core 2.19 and structured summaries from it."""
    return [w if isinstance(w, str) else w["event"]["msg"] for w in result.get("warnings", [])]


def test_present_creates_with_the_0_8_shape_and_reports_the_machine(smolvm, capsys):
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "cpus": 2}, capsys)
    assert code == 0
    assert result["changed"] is True
    assert result["version"] == "0.8.0"
    assert result["commands"] == [[smolvm.exe, "machine", "create", "vm1", "--cpus", "2"]]
    assert result["machine"]["name"] == "vm1"
    assert result["machine"]["state"] == "created"
    assert "diff" not in result


def test_started_at_1_9_3_uses_name_flags_and_diff_mode_shows_the_state(smolvm, capsys):
    smolvm.version = "1.9.3"
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "state": "started",
                               "_ansible_diff": True}, capsys)
    assert code == 0
    assert result["commands"] == [[smolvm.exe, "machine", "create", "--name", "vm1"],
                                  [smolvm.exe, "machine", "start", "--name", "vm1"]]
    assert result["diff"] == {"before": {"name": "vm1", "state": "absent"},
                              "after": {"name": "vm1", "state": "running"}}


def test_a_second_run_changes_nothing(smolvm, capsys):
    run_module({"name": "vm1", "executable": smolvm.exe, "state": "started"}, capsys)
    before = len(smolvm.changing())
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "state": "started"}, capsys)
    assert code == 0
    assert result["changed"] is False
    assert result["commands"] == []
    assert len(smolvm.changing()) == before


def test_check_mode_runs_nothing_that_changes(smolvm, capsys):
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "state": "started",
                               "_ansible_check_mode": True, "_ansible_diff": True}, capsys)
    assert code == 0
    assert result["changed"] is True
    assert [argv[2] for argv in result["commands"]] == ["create", "start"]
    assert result["diff"]["after"]["state"] == "running"
    assert result["machine"] == {}
    assert smolvm.changing() == []


def test_absent_stops_then_deletes_with_force(smolvm, capsys):
    smolvm.machines["vm1"] = {"name": "vm1", "state": "running", "cpus": 1, "memory_mib": 512}
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "state": "absent"}, capsys)
    assert code == 0
    assert result["commands"] == [[smolvm.exe, "machine", "stop", "--name", "vm1"],
                                  [smolvm.exe, "machine", "delete", "vm1", "-f"]]
    assert result["machine"] == {}
    assert smolvm.machines == {}


def test_allow_cidrs_are_normalised_and_env_is_passed_unexpanded(smolvm, capsys):
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "net": True,
                               "allow_cidrs": ["127.0.0.16", "127.0.0.16/32", "10.0.0.0/8"],
                               "env": {"HOME_COPY": "$HOME", "TILDE": "~"}}, capsys)
    assert code == 0
    assert result["commands"][0][3:] == ["vm1", "--net", "--allow-cidr", "127.0.0.16/32",
                                         "--allow-cidr", "10.0.0.0/8",
                                         "-e", "HOME_COPY=$HOME", "-e", "TILDE=~"]
    assert all(kwargs.get("expand_user_and_vars") is False for kwargs in smolvm.kwargs)


def test_a_bad_cidr_fails_before_smolvm_runs(smolvm, capsys):
    code, result = run_module({"name": "vm1", "executable": smolvm.exe,
                               "allow_cidrs": ["10.0.0.300/8"]}, capsys)
    assert code == 1
    assert result["failed"] is True
    assert result["msg"].startswith("allowed_cidrs: ")
    assert "'10.0.0.300/8' is not a valid CIDR" in result["msg"]
    assert result["changed"] is False
    assert smolvm.calls == []


def test_a_packed_create_at_0_8_warns_that_the_allowlist_was_dropped(smolvm, capsys, tmp_path):
    pack = tmp_path / "agent.smolmachine"
    pack.write_text("{}")
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "smolmachine": str(pack),
                               "net": True, "allow_cidrs": ["127.0.0.16/32"]}, capsys)
    assert code == 0
    assert result["commands"][0][3:6] == ["vm1", "--from", str(pack)]
    # Other modules' tests in the same worker can leave warnings in ansible-core's global list.
    [warning] = [w for w in warning_texts(result) if "allow_cidrs" in w]
    assert "smolvm 0.8.0 dropped allow_cidrs (127.0.0.16/32)" in warning
    assert "bot_bottle.smolmachines.smolvm_allowlist" in warning


def test_a_failed_create_returns_smolvms_stderr(smolvm, capsys):
    smolvm.fail["create"] = "Error: injected failure\n"
    code, result = run_module({"name": "vm1", "executable": smolvm.exe}, capsys)
    assert code == 1
    assert result["msg"] == "smolvm machine create failed (exit 1): Error: injected failure"
    assert result["rc"] == 1
    assert result["stderr"] == "Error: injected failure\n"
    assert result["cmd"] == [smolvm.exe, "machine", "create", "vm1"]
    assert result["commands"] == [[smolvm.exe, "machine", "create", "vm1"]]
    assert result["changed"] is False
    assert result["version"] == "0.8.0"


def test_a_missing_smolmachine_fails_before_anything_changes(smolvm, capsys, tmp_path):
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, "state": "started",
                               "smolmachine": str(tmp_path / "gone.smolmachine")}, capsys)
    assert code == 1
    assert f"smolmachine {tmp_path}/gone.smolmachine does not exist" in result["msg"]
    assert result["changed"] is False
    assert result["commands"] == []
    assert smolvm.changing() == []


def test_a_missing_executable_is_named(smolvm, capsys, tmp_path):
    code, result = run_module({"name": "vm1", "executable": str(tmp_path / "bin" / "smolvm")},
                              capsys)
    assert code == 1
    assert f"{tmp_path}/bin/smolvm does not exist or is not executable" in result["msg"]
    assert smolvm.calls == []


def test_smolmachine_and_image_are_mutually_exclusive(smolvm, capsys):
    code, result = run_module({"name": "vm1", "executable": smolvm.exe,
                               "smolmachine": "/a.smolmachine", "image": "alpine"}, capsys)
    assert code == 1
    assert "mutually exclusive" in result["msg"]
    assert smolvm.calls == []


def test_an_unexpected_error_is_reported_with_its_traceback(smolvm, capsys, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(smolvm_machine.MachineManager, "ensure", explode)
    code, result = run_module({"name": "vm1", "executable": smolvm.exe}, capsys)
    assert code == 1
    assert result["msg"] == "unexpected error: boom"
    # ansible-core includes the traceback only when traceback capture is enabled.
    assert "RuntimeError: boom" in result.get("exception", "RuntimeError: boom")


@pytest.mark.parametrize("option", ["lock_timeout", "timeout"])
def test_db_timeout_has_no_alias_that_means_another_wait(smolvm, capsys, option):
    # lock_timeout is bottle_alias's lease lock wait, timeout the Docker API's: neither names smolvm's DB wait.
    code, result = run_module({"name": "vm1", "executable": smolvm.exe, option: 5}, capsys)
    assert code == 1
    assert result["msg"].startswith("Unsupported parameters for ")
    assert f" module: {option}. Supported parameters include: " in result["msg"]
    assert smolvm.calls == []
