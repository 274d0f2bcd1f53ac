# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils import loopback
from ansible_collections.bot_bottle.smolmachines.plugins.modules import loopback_pool

STANDIN = Path(__file__).resolve().parents[3] / "standins" / "ifconfig"
TSI_POOL = dict(first="127.0.0.16", last="127.0.0.31")
NEW_POOL = dict(first="198.18.0.16", last="198.18.0.19")
NEW_POOL_ADDRESSES = [f"198.18.0.{i}" for i in range(16, 20)]


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """The ifconfig stand-in with a fresh lo0; returns a reader of its state."""
    state = tmp_path / "state.json"
    monkeypatch.setenv("IFCONFIG_STANDIN_STATE", str(state))
    monkeypatch.setenv("IFCONFIG_STANDIN_ALLOW_NONROOT", "1")
    monkeypatch.setattr(loopback, "effective_uid", lambda: 0)

    def aliases():
        if not state.exists():
            return ["127.0.0.1"]
        entries = json.loads(state.read_text())["interfaces"]["lo0"]["addresses"]
        return [e["address"] for e in entries if e["family"] == "inet"]
    return aliases


def run_module(capsys, **args):
    """main() with `args`; (exit code, the result dict)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            loopback_pool.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def ifconfig_args(**args):
    return dict(method="ifconfig", ifconfig_path=str(STANDIN), **args)


def test_present_three_times_check_real_again(capsys, standin):
    args = ifconfig_args(first="127.0.0.16", last="127.0.0.18")
    code, check = run_module(capsys, _ansible_check_mode=True, _ansible_diff=True, **args)
    assert code == 0 and check["changed"] is True
    assert check["added"] == ["127.0.0.16", "127.0.0.17", "127.0.0.18"]
    assert check["diff"] == {"before": {"interface": "lo0", "aliases": []},
                             "after": {"interface": "lo0",
                                       "aliases": ["127.0.0.16", "127.0.0.17", "127.0.0.18"]}}
    assert standin() == ["127.0.0.1"]

    code, real = run_module(capsys, _ansible_diff=True, **args)
    assert code == 0 and real["changed"] is True
    assert real["added"] == check["added"] and real["diff"] == check["diff"]
    assert real["msg"] == "added 3 aliases to lo0: 127.0.0.16-127.0.0.18"
    assert standin() == ["127.0.0.1", "127.0.0.16", "127.0.0.17", "127.0.0.18"]

    code, again = run_module(capsys, _ansible_diff=True, **args)
    assert code == 0 and again["changed"] is False
    assert again["present"] == check["added"] and again["added"] == []
    assert again["diff"]["before"] == again["diff"]["after"]


def test_diff_is_left_out_unless_asked(capsys, standin):
    _code, result = run_module(capsys, **ifconfig_args(**TSI_POOL))
    assert "diff" not in result
    assert set(result) >= {"pool", "method", "interface", "present", "added", "removed", "msg"}
    assert result["pool"] == {"first": "127.0.0.16", "last": "127.0.0.31", "size": 16}


def test_absent_removes_what_present_added(capsys, standin):
    run_module(capsys, **ifconfig_args(first="127.0.0.16", last="127.0.0.17"))
    code, result = run_module(capsys, _ansible_diff=True,
                              **ifconfig_args(state="absent", **TSI_POOL))
    assert code == 0 and result["changed"] is True
    assert result["removed"] == ["127.0.0.16", "127.0.0.17"]
    assert result["diff"]["after"]["aliases"] == []
    assert standin() == ["127.0.0.1"]


@pytest.mark.parametrize("args, message", [
    (dict(first="127.0.0.31", last="127.0.0.16"), "first=127.0.0.31 is above last=127.0.0.16"),
    (dict(first="127.0.0.1", last="127.0.0.9"), "first=127.0.0.1 is reserved"),
    (dict(interface="lo1", **TSI_POOL), "cannot read the addresses of lo1: "),
    (dict(interface="-a", **TSI_POOL), "interface='-a' is not an interface name"),
])
def test_bad_input_fails_with_the_message_and_changes_nothing(capsys, standin, args, message):
    code, result = run_module(capsys, **ifconfig_args(**args))
    assert code == 1 and result["failed"] is True
    assert message in result["msg"]
    assert standin() == ["127.0.0.1"]


def test_unknown_method_is_refused_by_the_argument_spec(capsys, standin):
    code, result = run_module(capsys, method="netsh")
    assert code == 1 and "value of method must be one of: auto, ifconfig, linux" in result["msg"]


def test_not_root_fails_and_says_become(capsys, standin, monkeypatch):
    monkeypatch.setattr(loopback, "effective_uid", lambda: 501)
    code, result = run_module(capsys, **ifconfig_args(first="127.0.0.16", last="127.0.0.17"))
    assert code == 1
    assert result["msg"] == (
        "adding 2 aliases (127.0.0.16-127.0.0.17) to lo0 needs root, and this module runs as "
        "uid 501; run the task with become: true (the module never calls sudo itself)")
    assert result["added"] == [] and result["present"] == []
    assert standin() == ["127.0.0.1"]


def test_not_root_in_check_mode_predicts_and_warns(capsys, standin, monkeypatch):
    monkeypatch.setattr(loopback, "effective_uid", lambda: 501)
    code, result = run_module(capsys, _ansible_check_mode=True, **ifconfig_args(**TSI_POOL))
    assert code == 0 and result["changed"] is True
    # ansible-core 2.19 returns warnings as structured summaries, older releases as strings.
    assert "needs root" in json.dumps(result["warnings"])
    assert "become: true" in json.dumps(result["warnings"])


def test_a_failing_ifconfig_reports_partial_progress(capsys, standin, tmp_path):
    # A wrapper that lets the stand-in add 127.0.0.16 and then fails like macOS would.
    wrapper = tmp_path / "ifconfig"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$3" in 127.0.0.17/32) echo "ifconfig: ioctl (SIOCAIFADDR): File exists" >&2;'
        " exit 1;; esac\n"
        f'exec "{STANDIN}" "$@"\n')
    wrapper.chmod(0o755)
    code, result = run_module(capsys, method="ifconfig", ifconfig_path=str(wrapper),
                              first="127.0.0.16", last="127.0.0.18")
    assert code == 1 and result["changed"] is True
    assert result["added"] == ["127.0.0.16"]
    assert "reading lo0 back shows 1 alias added (127.0.0.16)" in result["msg"]
    assert standin() == ["127.0.0.1", "127.0.0.16"]


def test_no_ifconfig_on_path(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(loopback_pool.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: None)
    code, result = run_module(capsys, method="ifconfig")
    assert code == 1 and "set ifconfig_path" in result["msg"]


def test_auto_on_linux_verifies_the_route_and_changes_nothing(capsys, monkeypatch):
    monkeypatch.setattr(loopback, "system_name", lambda: "Linux")
    seen = []

    def run_command(self, argv, **kwargs):
        seen.append(argv)
        return 0, "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1\n", ""
    monkeypatch.setattr(loopback_pool.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(loopback_pool.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: f"/usr/sbin/{name}")
    code, result = run_module(capsys, _ansible_diff=True, **TSI_POOL)
    assert code == 0 and result["changed"] is False
    assert result["method"] == "linux" and result["interface"] == "lo"
    assert seen == [["/usr/sbin/ip", "-4", "route", "show", "table", "local"]]
    assert "`local 127.0.0.0/8 dev lo`" in result["msg"]


def test_auto_on_macos_uses_ifconfig(capsys, standin, monkeypatch):
    monkeypatch.setattr(loopback, "system_name", lambda: "Darwin")
    code, result = run_module(capsys, _ansible_check_mode=True, ifconfig_path=str(STANDIN))
    assert code == 0 and result["method"] == "ifconfig" and result["interface"] == "lo0"


def test_linux_without_a_covering_route_fails(capsys, monkeypatch):
    monkeypatch.setattr(loopback_pool.AnsibleModule, "run_command",
                        lambda self, argv, **kwargs: (0, "", ""))
    monkeypatch.setattr(loopback_pool.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: f"/usr/sbin/{name}")
    code, result = run_module(capsys, method="linux", **TSI_POOL)
    assert code == 1 and result["msg"].startswith("cannot verify that the pool")


def test_unexpected_errors_carry_the_traceback(capsys, monkeypatch):
    def boom(self, state, check_mode):
        raise RuntimeError("boom")
    failures = []
    real_fail_json = loopback_pool.AnsibleModule.fail_json

    def fail_json(self, msg, **kwargs):
        failures.append(dict(kwargs, msg=msg))
        real_fail_json(self, msg, **kwargs)
    monkeypatch.setattr(loopback_pool.IfconfigAliases, "ensure", boom)
    monkeypatch.setattr(loopback_pool.AnsibleModule, "fail_json", fail_json)
    code, result = run_module(capsys, **ifconfig_args(**TSI_POOL))
    assert code == 1 and result["msg"] == "unexpected error: boom"
    assert "RuntimeError: boom" in failures[0]["exception"]


# -- Linux, a pool outside 127.0.0.0/8: the real ip, in a network namespace of this test's own ----

@pytest.fixture
def netns_ip(tmp_path, monkeypatch):
    """`ip` as the module finds it, entering a private network namespace (lo up) held by a
    sleeping process; returns a reader of lo's IPv4 addresses there. Nothing outlives the test."""
    ip_path = shutil.which("ip")
    if os.geteuid() != 0 or not ip_path or not shutil.which("unshare") \
            or subprocess.run(["unshare", "--net", "true"], check=False).returncode != 0:
        pytest.skip("needs root with unshare, nsenter and ip to make a network namespace")
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", f"{ip_path} link set lo up && echo ready; exec sleep 600"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "ready\n"
        wrapper = tmp_path / "ip"
        wrapper.write_text(f'#!/bin/sh\nexec nsenter --net=/proc/{holder.pid}/ns/net {ip_path} "$@"\n')
        wrapper.chmod(0o755)
        monkeypatch.setattr(loopback, "system_name", lambda: "Linux")
        monkeypatch.setattr(loopback, "effective_uid", lambda: 0)
        monkeypatch.setattr(loopback_pool.AnsibleModule, "get_bin_path",
                            lambda self, name, *a, **k: str(wrapper) if name == "ip" else None)

        def addresses():
            out = subprocess.run([str(wrapper), "-4", "-o", "address", "show", "dev", "lo"],
                                 check=True, capture_output=True, text=True).stdout
            return [re.search(r"\binet (\S+)", line).group(1) for line in out.splitlines()]
        yield addresses
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_linux_adds_and_removes_a_pool_outside_127_8(capsys, netns_ip):
    code, check = run_module(capsys, _ansible_check_mode=True, _ansible_diff=True, **NEW_POOL)
    assert code == 0 and check["changed"] is True
    assert check["method"] == "linux" and check["interface"] == "lo"
    assert check["added"] == NEW_POOL_ADDRESSES
    assert check["diff"] == {"before": {"interface": "lo", "aliases": []},
                             "after": {"interface": "lo", "aliases": NEW_POOL_ADDRESSES}}
    assert netns_ip() == ["127.0.0.1/8"]

    code, real = run_module(capsys, _ansible_diff=True, **NEW_POOL)
    assert code == 0 and real["changed"] is True and real["diff"] == check["diff"]
    assert real["msg"] == "added 4 aliases to lo: 198.18.0.16-198.18.0.19"
    assert netns_ip() == ["127.0.0.1/8"] + [f"{a}/32" for a in NEW_POOL_ADDRESSES]

    code, again = run_module(capsys, _ansible_diff=True, **NEW_POOL)
    assert code == 0 and again["changed"] is False and again["present"] == NEW_POOL_ADDRESSES

    code, gone = run_module(capsys, _ansible_diff=True, state="absent", **NEW_POOL)
    assert code == 0 and gone["changed"] is True and gone["removed"] == NEW_POOL_ADDRESSES
    assert gone["diff"]["after"]["aliases"] == []
    assert netns_ip() == ["127.0.0.1/8"]


def test_linux_not_root_fails_and_says_become_without_changing_lo(capsys, netns_ip, monkeypatch):
    monkeypatch.setattr(loopback, "effective_uid", lambda: 1000)
    code, result = run_module(capsys, **NEW_POOL)
    assert code == 1 and result.get("changed") is not True and result["added"] == []
    assert result["msg"] == (
        "adding 4 aliases (198.18.0.16-198.18.0.19) to lo needs root, and this module runs as "
        "uid 1000; run the task with become: true (the module never calls sudo itself)")
    assert netns_ip() == ["127.0.0.1/8"]


def test_linux_without_ip_fails_for_a_pool_outside_127_8(capsys, monkeypatch):
    monkeypatch.setattr(loopback, "system_name", lambda: "Linux")
    monkeypatch.setattr(loopback_pool.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: None)
    code, result = run_module(capsys, **NEW_POOL)
    assert code == 1 and result["msg"].endswith("install iproute2")
