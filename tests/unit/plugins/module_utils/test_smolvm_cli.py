# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import stat

import pytest
from hypothesis import given, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    CreateOptions, MachineSpecError, SmolvmCli, SmolvmCommandError,
    SmolvmNotFoundError, SmolvmOutputError, SmolvmVersionError, find_executable,
    from_drops_egress, name_shape, parse_version,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_lifecycle import MachineManager

EXE = "/opt/smolvm/bin/smolvm"


class FakeSmolvm:
    """Answers argv lists the way smolvm does at one version, keeping machines in a dict.

    It checks the argument shapes strictly (a name in the wrong place is exit 2, as clap does),
    so a test that passes here sent what the real version accepts.
    """

    def __init__(self, version="0.8.0", machines=None, exe=EXE):
        self.exe = exe
        self.version = version
        self.numbers = tuple(int(p) for p in version.split("."))
        self.machines = {m["name"]: dict(m) for m in (machines or [])}
        self.calls = []
        self.fail = {}             # subcommand -> (rc, stderr)
        self.cancel_delete = False  # exit 0 and delete nothing, as smolvm without a terminal
        self.start_leaves = None    # state a start leaves behind (None: running)
        self.exec_failures = 0
        self.version_output = None
        self.ls_output = None

    def __call__(self, argv):
        self.calls.append(list(argv))
        assert argv[0] == self.exe
        if argv[1:] == ["--version"]:
            return 0, self.version_output or f"smolvm {self.version}\n", ""
        assert argv[1] == "machine"
        sub, rest = argv[2], argv[3:]
        if sub in self.fail:
            rc, err = self.fail[sub]
            return rc, "", err
        return getattr(self, f"_{sub}")(rest)

    def _name(self, sub, rest):
        flag_since = {"create": (1, 0, 2), "delete": (1, 0, 2)}.get(sub, (0, 0, 0))
        if self.numbers >= flag_since:
            if rest[:1] != ["--name"]:
                raise _Usage(f"{sub} wants --name NAME at {self.version}, got {rest}")
            return rest[1], rest[2:]
        if rest[:1] == ["--name"] or not rest or rest[0].startswith("-"):
            raise _Usage(f"{sub} wants a positional NAME at {self.version}, got {rest}")
        return rest[0], rest[1:]

    def _ls(self, rest):
        assert rest == ["--json"]
        if self.ls_output is not None:
            return 0, self.ls_output, ""
        return 0, json.dumps(list(self.machines.values())), ""

    def _create(self, rest):
        name, flags = self._name("create", rest)
        if name in self.machines:
            return 1, "", (f"Error: config operation failed: create machine: machine '{name}' "
                           f"already exists\n")
        machine = {"name": name, "state": "created", "cpus": 1, "memory_mib": 512,
                   "network": "--net" in flags, "image": None}
        if "--cpus" in flags:
            machine["cpus"] = int(flags[flags.index("--cpus") + 1])
        if "--mem" in flags:
            machine["memory_mib"] = int(flags[flags.index("--mem") + 1])
        self.machines[name] = machine
        return 0, f"Created machine: {name}\n", ""

    def _start(self, rest):
        name, more = self._name("start", rest)
        assert not more
        if name not in self.machines:
            return 1, "", f"Error: vm not found: {name}\n"
        self.machines[name]["state"] = self.start_leaves or "running"
        return 0, "", ""

    def _stop(self, rest):
        name, more = self._name("stop", rest)
        assert not more
        self.machines[name]["state"] = "stopped"
        return 0, "", ""

    def _delete(self, rest):
        name, more = self._name("delete", rest)
        if "-f" not in more or self.cancel_delete:
            return 0, "Cancelled\n", f"Delete machine '{name}'? [y/N] "
        if name not in self.machines:
            return 1, "", f"Error: vm not found: {name}\n"
        del self.machines[name]
        return 0, f"Deleted machine: {name}\n", ""

    def _exec(self, rest):
        name, more = self._name("exec", rest)
        assert more == ["--", "true"]
        if self.exec_failures:
            self.exec_failures -= 1
            return 1, "", "Error: agent operation failed: connect: agent did not respond\n"
        return 0, "", ""

    def changing_calls(self):
        return [c for c in self.calls if c[1:] != ["--version"] and c[2:] != ["ls", "--json"]]


class _Usage(AssertionError):
    """A shape the real smolvm would refuse with exit 2; failing loudly keeps tests honest."""


def machine(name, state="created", **extra):
    record = {"name": name, "state": state, "cpus": 1, "memory_mib": 512, "network": False,
              "image": None}
    record.update(extra)
    return record


def cli_for(fake):
    return SmolvmCli(EXE, fake, fake.numbers)


def manager_for(fake, **kwargs):
    return MachineManager(cli_for(fake), **kwargs)


# --------------------------------------------------------------------------- versions

@pytest.mark.parametrize("text, numbers, shown", [
    ("smolvm 0.8.0\n", (0, 8, 0), "0.8.0"),
    ("smolvm 1.9.3", (1, 9, 3), "1.9.3"),
    ("  smolvm 1.10.0-rc.1  \n", (1, 10, 0), "1.10.0-rc.1"),
    ("\nsmolvm v2.0.11\nbuilt with love\n", (2, 0, 11), "2.0.11"),
])
def test_version_is_read_from_smolvm_x_y_z(text, numbers, shown):
    assert parse_version(text) == (numbers, shown)


@pytest.mark.parametrize("text", [
    "", "smolvm", "smolvm 0.8", "smolvm version 0.8.0", "SmolVM 0.8.0",
    "usage: smolvm [-h] {create,delete}", "0.8.0",
])
def test_an_unknown_version_format_is_a_clear_error(text):
    with pytest.raises(SmolvmVersionError) as caught:
        parse_version(text)
    assert "expected 'smolvm X.Y.Z'" in str(caught.value)
    assert "PyPI" in str(caught.value)


@pytest.mark.parametrize("version, create, delete", [
    ((0, 8, 0), "positional", "positional"),
    ((1, 0, 1), "positional", "positional"),
    ((1, 0, 2), "flag", "flag"),
    ((1, 9, 3), "flag", "flag"),
    ((2, 0, 0), "flag", "flag"),
])
def test_name_shapes_follow_the_version_table(version, create, delete):
    assert name_shape(version, "create") == create
    assert name_shape(version, "delete") == delete
    for sub in ("start", "stop", "exec"):
        assert name_shape(version, sub) == "flag"


@pytest.mark.parametrize("version, dropped", [
    ((0, 5, 11), False), ((0, 5, 12), True), ((0, 8, 0), True), ((1, 7, 7), True),
    ((1, 8, 0), False), ((1, 9, 3), False),
])
def test_from_drops_egress_between_0_5_12_and_1_7_7(version, dropped):
    assert from_drops_egress(version) is dropped


def test_discover_finds_the_executable_and_reads_the_version_once(tmp_path):
    exe = _make_file(tmp_path, "smolvm", 0o755)
    fake = FakeSmolvm("1.9.3", exe=str(exe))
    cli = SmolvmCli.discover(fake, executable="smolvm", path=str(tmp_path))
    assert cli.executable == str(exe)
    assert cli.version == (1, 9, 3)
    assert cli.version_string == "1.9.3"
    assert fake.calls == [[str(exe), "--version"]]


def test_discover_carries_stderr_when_version_fails(tmp_path):
    exe = _make_file(tmp_path, "smolvm", 0o755)

    def run(argv):
        return 126, "", "exec format error\n"
    with pytest.raises(SmolvmVersionError) as caught:
        SmolvmCli.discover(run, executable=str(exe))
    assert "exit 126" in str(caught.value)
    assert "exec format error" in str(caught.value)
    assert caught.value.facts["rc"] == 126


def test_discover_refuses_another_program_called_smolvm(tmp_path):
    exe = _make_file(tmp_path, "smolvm", 0o755)
    fake = FakeSmolvm(exe=str(exe))
    fake.version_output = "smolvm, a Python VM toolkit, version 3.1\n"
    with pytest.raises(SmolvmVersionError) as caught:
        SmolvmCli.discover(fake, executable=str(exe))
    assert "a Python VM toolkit" in str(caught.value)


def test_discover_fails_on_a_missing_executable_before_running_anything(tmp_path):
    fake = FakeSmolvm()
    with pytest.raises(SmolvmNotFoundError):
        SmolvmCli.discover(fake, executable="smolvm", path=str(tmp_path))
    assert fake.calls == []


# --------------------------------------------------------------------------- the executable

def _make_file(directory, name, mode):
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_a_bare_name_is_found_on_path(tmp_path):
    _make_file(tmp_path, "smolvm", 0o755)
    assert find_executable("smolvm", path=str(tmp_path)) == str(tmp_path / "smolvm")


def test_a_path_must_be_an_executable_file(tmp_path):
    plain = _make_file(tmp_path, "smolvm", 0o644)
    with pytest.raises(SmolvmNotFoundError) as caught:
        find_executable(str(plain))
    assert f"{plain} does not exist or is not executable" in str(caught.value)


def test_a_missing_executable_says_where_it_looked(tmp_path):
    with pytest.raises(SmolvmNotFoundError) as caught:
        find_executable("smolvm", path=str(tmp_path))
    assert f"was not found on PATH ({tmp_path})" in str(caught.value)
    assert "set executable" in str(caught.value)


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(SmolvmNotFoundError) as caught:
        find_executable(str(tmp_path / "nope" / "smolvm"))
    assert "nope/smolvm does not exist" in str(caught.value)


def test_the_executable_bit_is_required_for_a_path(tmp_path):
    exe = _make_file(tmp_path, "smolvm", 0o755)
    assert find_executable(str(exe)) == str(exe)
    # Even root needs some execute bit for X_OK.
    exe.chmod(exe.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    with pytest.raises(SmolvmNotFoundError):
        find_executable(str(exe))


# --------------------------------------------------------------------------- argv shapes

OPTIONS = dict(image="alpine:3.20", cpus=2, mem=1024, net=True, allow_cidrs=["127.0.0.16/32"],
               env={"A": "1", "B": "x y"})
FLAGS = ["--image", "alpine:3.20", "--cpus", "2", "--mem", "1024", "--net",
         "--allow-cidr", "127.0.0.16/32", "-e", "A=1", "-e", "B=x y"]


def test_argv_at_0_8_0_puts_the_name_where_0_8_0_wants_it():
    cli = cli_for(FakeSmolvm("0.8.0"))
    assert cli.create_argv("vm1", CreateOptions(**OPTIONS)) == [EXE, "machine", "create", "vm1"] + FLAGS
    assert cli.start_argv("vm1") == [EXE, "machine", "start", "--name", "vm1"]
    assert cli.stop_argv("vm1") == [EXE, "machine", "stop", "--name", "vm1"]
    assert cli.delete_argv("vm1") == [EXE, "machine", "delete", "vm1", "-f"]
    assert cli.probe_argv("vm1") == [EXE, "machine", "exec", "--name", "vm1", "--", "true"]
    assert cli.list_argv() == [EXE, "machine", "ls", "--json"]


def test_argv_at_1_9_3_names_the_machine_with_a_flag_everywhere():
    cli = cli_for(FakeSmolvm("1.9.3"))
    assert cli.create_argv("vm1", CreateOptions(**OPTIONS)) == (
        [EXE, "machine", "create", "--name", "vm1"] + FLAGS)
    assert cli.start_argv("vm1") == [EXE, "machine", "start", "--name", "vm1"]
    assert cli.stop_argv("vm1") == [EXE, "machine", "stop", "--name", "vm1"]
    assert cli.delete_argv("vm1") == [EXE, "machine", "delete", "--name", "vm1", "-f"]
    assert cli.probe_argv("vm1") == [EXE, "machine", "exec", "--name", "vm1", "--", "true"]


@given(version=st.tuples(st.integers(0, 3), st.integers(0, 20), st.integers(0, 20)),
       name=st.from_regex(r"vm[a-z0-9-]{0,30}", fullmatch=True))
def test_every_shape_names_the_machine_exactly_once_and_delete_is_forced(version, name):
    cli = SmolvmCli(EXE, None, version)
    for argv in (cli.create_argv(name, CreateOptions()), cli.start_argv(name), cli.stop_argv(name),
                 cli.delete_argv(name), cli.probe_argv(name)):
        assert argv.count(name) == 1
        at = argv.index(name)
        assert argv[at - 1] == "--name" or (argv[at - 1] in ("create", "delete") and version < (1, 0, 2))
    assert cli.delete_argv(name)[-1] == "-f"


def test_a_packed_machine_is_created_with_from_and_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = CreateOptions(smolmachine="agent.smolmachine")
    assert options.flags() == ["--from", str(tmp_path / "agent.smolmachine")]


@pytest.mark.parametrize("kwargs, message", [
    (dict(smolmachine="/a.smolmachine", image="alpine"), "mutually exclusive"),
    (dict(cpus=0), "cpus=0 is out of range"),
    (dict(cpus=256), "cpus=256 is out of range"),
    (dict(cpus="two"), "cpus='two' is not a number"),
    (dict(cpus=True), "cpus=True is not a number"),
    (dict(mem=-1), "mem=-1 is out of range"),
    (dict(env={"": "x"}), "env key '' is not a variable name"),
    (dict(env={"A=B": "x"}), "env key 'A=B' is not a variable name"),
    (dict(env={"DEBUG": True}), "quote the value"),
    (dict(env={"X": None}), "quote the value"),
])
def test_bad_create_options_name_the_bad_value(kwargs, message):
    with pytest.raises(MachineSpecError) as caught:
        CreateOptions(**kwargs)
    assert message in str(caught.value)


def test_env_numbers_become_strings_in_the_order_given():
    assert CreateOptions(env={"B": 2, "A": 1.5}).flags() == ["-e", "B=2", "-e", "A=1.5"]


def test_a_missing_smolmachine_is_refused(tmp_path):
    options = CreateOptions(smolmachine=str(tmp_path / "gone.smolmachine"))
    with pytest.raises(MachineSpecError) as caught:
        options.check_source()
    assert f"smolmachine {tmp_path}/gone.smolmachine does not exist" in str(caught.value)


# --------------------------------------------------------------------------- ls --json

@pytest.mark.parametrize("output, message", [
    ("not json", "did not print JSON"),
    ('{"name": "vm1"}', "printed dict JSON, expected an array"),
    ('["vm1"]', "printed list JSON, expected an array of machine objects"),
    ("", "did not print JSON"),
])
def test_ls_output_must_be_an_array_of_objects(output, message):
    fake = FakeSmolvm()
    fake.ls_output = output
    with pytest.raises(SmolvmOutputError) as caught:
        cli_for(fake).list_machines()
    assert message in str(caught.value)


def test_get_machine_compares_names_exactly():
    fake = FakeSmolvm(machines=[machine("vm10"), machine("vm1-x")])
    assert cli_for(fake).get_machine("vm1") is None
    assert cli_for(fake).get_machine("vm10")["name"] == "vm10"


def test_an_empty_list_means_no_machines():
    assert cli_for(FakeSmolvm()).list_machines() == []


def test_a_failed_command_carries_smolvms_stderr_and_exit_code():
    fake = FakeSmolvm()
    fake.fail["ls"] = (1, "Error: database error: failed to open database: locked\n")
    with pytest.raises(SmolvmCommandError) as caught:
        cli_for(fake).list_machines()
    assert str(caught.value) == ("smolvm machine ls failed (exit 1): Error: database error: "
                                 "failed to open database: locked")
    assert caught.value.facts == {"cmd": [EXE, "machine", "ls", "--json"], "rc": 1, "stdout": "",
                                  "stderr": "Error: database error: failed to open database: locked\n"}


# --------------------------------------------------------------------------- ensure

@pytest.mark.parametrize("version", ["0.8.0", "1.9.3"])
@pytest.mark.parametrize("state, start, commands, end", [
    ("present", None, ["create"], "created"),
    ("present", "created", [], "created"),
    ("present", "running", [], "running"),
    ("started", None, ["create", "start"], "running"),
    ("started", "created", ["start"], "running"),
    ("started", "stopped", ["start"], "running"),
    ("started", "failed", ["start"], "running"),
    ("started", "running", [], "running"),
    ("stopped", None, ["create"], "created"),
    ("stopped", "created", [], "created"),
    ("stopped", "running", ["stop"], "stopped"),
    ("stopped", "unreachable", ["stop"], "stopped"),
    ("stopped", "stopped", [], "stopped"),
    ("absent", None, [], "absent"),
    ("absent", "stopped", ["delete"], "absent"),
    ("absent", "running", ["stop", "delete"], "absent"),
])
def test_ensure_runs_only_what_the_state_needs(version, state, start, commands, end):
    machines = [machine("vm1", start)] if start else []
    fake = FakeSmolvm(version, machines)
    result = manager_for(fake).ensure("vm1", state=state)
    assert [argv[2] for argv in fake.changing_calls()] == commands
    assert result.changed is bool(commands)
    assert [argv[2] for argv in result.facts["commands"]] == commands
    assert result.diff == {"before": {"name": "vm1", "state": start or "absent"},
                           "after": {"name": "vm1", "state": end}}
    assert result.facts["version"] == version
    if end == "absent":
        assert result.facts["machine"] == {}
        assert "vm1" not in fake.machines
    else:
        assert result.facts["machine"]["state"] == end == fake.machines["vm1"]["state"]


@pytest.mark.parametrize("state, start", [
    ("present", None), ("started", None), ("started", "stopped"), ("stopped", "running"),
    ("absent", "running"), ("absent", "created"),
])
def test_check_mode_predicts_the_same_and_runs_nothing_that_changes(state, start):
    machines = [machine("vm1", start)] if start else []
    real = manager_for(FakeSmolvm("0.8.0", machines)).ensure("vm1", state=state)
    fake = FakeSmolvm("0.8.0", machines)
    checked = manager_for(fake).ensure("vm1", state=state, check_mode=True)
    assert fake.changing_calls() == []
    assert checked.changed is real.changed is True
    assert checked.facts["commands"] == real.facts["commands"]
    assert checked.diff == real.diff
    assert checked.facts["machine"] == (machine("vm1", start) if start else {})


def test_delete_that_exits_0_but_deletes_nothing_is_a_failure():
    fake = FakeSmolvm("1.9.3", [machine("vm1", "stopped")])
    fake.cancel_delete = True
    with pytest.raises(SmolvmOutputError) as caught:
        manager_for(fake).ensure("vm1", state="absent")
    assert "smolvm exited 0 but machine vm1 is still listed (state 'stopped')" in str(caught.value)


def test_start_that_exits_0_without_running_is_a_failure():
    fake = FakeSmolvm("0.8.0", [machine("vm1", "stopped")])
    fake.start_leaves = "failed"
    with pytest.raises(SmolvmOutputError) as caught:
        manager_for(fake).ensure("vm1", state="started")
    assert "machine vm1 is 'failed', not 'running'" in str(caught.value)


def test_a_failed_create_surfaces_smolvms_error_and_keeps_the_commands_that_ran():
    fake = FakeSmolvm("0.8.0")
    fake.fail["create"] = (1, "Error: injected failure\n")
    manager = manager_for(fake)
    with pytest.raises(SmolvmCommandError) as caught:
        manager.ensure("vm1", state="started")
    assert str(caught.value) == "smolvm machine create failed (exit 1): Error: injected failure"
    assert caught.value.rc == 1
    assert manager.commands == [[EXE, "machine", "create", "vm1"]]
    assert manager.changed is False
    assert fake.machines == {}


def test_a_failed_start_after_create_reports_both_commands_and_changed():
    fake = FakeSmolvm("1.9.3")
    fake.fail["start"] = (1, "Error: agent operation failed: start machine: boom\n")
    manager = manager_for(fake)
    with pytest.raises(SmolvmCommandError):
        manager.ensure("vm1", state="started")
    assert manager.changed is True
    assert [argv[2] for argv in manager.commands] == ["create", "start"]


def test_a_missing_smolmachine_fails_before_any_command_that_changes(tmp_path):
    fake = FakeSmolvm("0.8.0")
    options = CreateOptions(smolmachine=str(tmp_path / "gone.smolmachine"))
    with pytest.raises(MachineSpecError):
        manager_for(fake).ensure("vm1", state="started", options=options)
    assert fake.changing_calls() == []


def test_a_missing_smolmachine_does_not_matter_once_the_machine_exists(tmp_path):
    fake = FakeSmolvm("0.8.0", [machine("vm1")])
    options = CreateOptions(smolmachine=str(tmp_path / "gone.smolmachine"))
    result = manager_for(fake).ensure("vm1", state="present", options=options)
    assert result.changed is False


@pytest.mark.parametrize("name, message", [
    ("", "name is empty"),
    ("-f", "starts with '-'"),
])
def test_bad_names_are_refused_before_anything_runs(name, message):
    fake = FakeSmolvm()
    with pytest.raises(MachineSpecError) as caught:
        manager_for(fake).ensure(name)
    assert message in str(caught.value)
    assert fake.calls == []


# --------------------------------------------------------------------------- warnings

@pytest.mark.parametrize("version, warned", [
    ("0.5.12", True), ("0.8.0", True), ("1.7.7", True), ("1.8.0", False), ("1.9.3", False),
])
def test_allow_cidrs_on_a_packed_create_warn_where_smolvm_drops_them(tmp_path, version, warned):
    pack = tmp_path / "agent.smolmachine"
    pack.write_text("{}")
    options = CreateOptions(smolmachine=str(pack), net=True, allow_cidrs=["127.0.0.16/32"])
    result = manager_for(FakeSmolvm(version)).ensure("vm1", options=options)
    if warned:
        [warning] = result.warnings
        assert f"smolvm {version} dropped allow_cidrs (127.0.0.16/32)" in warning
        assert "bot_bottle.smolmachines.smolvm_allowlist with name=vm1" in warning
    else:
        assert result.warnings == []


@pytest.mark.parametrize("state, net, says", [
    ("present", True, "networking on and no egress allowlist (allowed_cidrs is null): unrestricted egress"),
    ("present", False, "--allow-cidr did not turn networking on"),
    ("present", False, "before the machine starts"),
    ("started", True, "state=started starts it straight away, unconfined: stop it"),
])
def test_the_drop_warning_says_what_was_left_and_what_to_do(tmp_path, state, net, says):
    pack = tmp_path / "agent.smolmachine"
    pack.write_text("{}")
    options = CreateOptions(smolmachine=str(pack), net=net, allow_cidrs=["127.0.0.16/32"])
    result = manager_for(FakeSmolvm("0.8.0")).ensure("vm1", state=state, options=options)
    assert says in result.warnings[0]


def test_the_drop_warning_survives_a_failed_start(tmp_path):
    pack = tmp_path / "agent.smolmachine"
    pack.write_text("{}")
    fake = FakeSmolvm("0.8.0")
    fake.fail["start"] = (1, "Error: boom\n")
    manager = manager_for(fake)
    with pytest.raises(SmolvmCommandError):
        manager.ensure("vm1", state="started",
                       options=CreateOptions(smolmachine=str(pack), allow_cidrs=["10.0.0.0/8"]))
    assert "dropped allow_cidrs (10.0.0.0/8)" in manager.warnings[0]


def test_the_drop_warning_is_given_in_check_mode_too(tmp_path):
    pack = tmp_path / "agent.smolmachine"
    pack.write_text("{}")
    options = CreateOptions(smolmachine=str(pack), allow_cidrs=["127.0.0.16/32"])
    result = manager_for(FakeSmolvm("0.8.0")).ensure("vm1", options=options, check_mode=True)
    assert "would drop allow_cidrs" in result.warnings[0]


def test_no_drop_warning_without_a_packed_source_or_without_cidrs(tmp_path):
    pack = tmp_path / "agent.smolmachine"
    pack.write_text("{}")
    for options in (CreateOptions(image="alpine", allow_cidrs=["10.0.0.0/8"]),
                    CreateOptions(smolmachine=str(pack))):
        result = manager_for(FakeSmolvm("0.8.0")).ensure("vm1", options=options)
        assert result.warnings == []


def test_an_existing_machine_that_differs_is_left_alone_with_a_warning():
    fake = FakeSmolvm("1.9.3", [machine("vm1", "stopped", cpus=1, memory_mib=512, network=False,
                                        image="alpine")])
    options = CreateOptions(image="debian", cpus=2, mem=512, net=True)
    result = manager_for(fake).ensure("vm1", state="stopped", options=options)
    assert result.changed is False
    [warning] = result.warnings
    assert "cpus=2 (it has 1)" in warning
    assert "mem=" not in warning
    assert "net=true (it has networking off)" in warning
    assert "image=debian (it has alpine)" in warning
    assert "does not change an existing machine" in warning


def test_an_existing_machine_that_matches_gives_no_warning():
    fake = FakeSmolvm("1.9.3", [machine("vm1", cpus=2, memory_mib=1024, network=True)])
    result = manager_for(fake).ensure("vm1", options=CreateOptions(cpus=2, mem=1024, net=True))
    assert result.warnings == []


# --------------------------------------------------------------------------- wait

class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def test_wait_polls_with_backoff_until_the_guest_answers():
    fake = FakeSmolvm("0.8.0")
    fake.exec_failures = 5
    clock = Clock()
    result = manager_for(fake, sleep=clock.sleep, clock=clock).ensure(
        "vm1", state="started", wait=True, wait_timeout=60)
    probes = [c for c in fake.calls if c[2] == "exec"]
    assert len(probes) == 6
    assert clock.slept == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert result.facts["commands"][-1] == [EXE, "machine", "exec", "--name", "vm1", "--", "true"]
    assert [argv[2] for argv in result.facts["commands"]] == ["create", "start", "exec"]


def test_wait_times_out_with_the_last_error():
    fake = FakeSmolvm("1.9.3")
    fake.exec_failures = 1000
    clock = Clock()
    manager = manager_for(fake, sleep=clock.sleep, clock=clock)
    with pytest.raises(SmolvmCommandError) as caught:
        manager.ensure("vm1", state="started", wait=True, wait_timeout=5)
    message = str(caught.value)
    assert message.startswith("machine vm1 did not answer `machine exec -- true` within 5 s")
    assert "last error (exit 1): Error: agent operation failed: connect: agent did not respond" in message
    assert sum(clock.slept) == pytest.approx(5.0)
    assert manager.changed is True
    assert fake.machines["vm1"]["state"] == "running"


def test_wait_probes_a_machine_that_was_already_running_without_changing_anything():
    fake = FakeSmolvm("1.9.3", [machine("vm1", "running")])
    clock = Clock()
    result = manager_for(fake, sleep=clock.sleep, clock=clock).ensure(
        "vm1", state="started", wait=True)
    assert result.changed is False
    assert [argv[2] for argv in result.facts["commands"]] == ["exec"]


def test_wait_is_skipped_in_check_mode_and_for_other_states():
    for state, check in (("started", True), ("present", False), ("stopped", False)):
        fake = FakeSmolvm("1.9.3", [machine("vm1", "running")])
        manager_for(fake).ensure("vm1", state=state, wait=True, check_mode=check)
        assert [c for c in fake.calls if c[2:3] == ["exec"]] == []


@pytest.mark.parametrize("timeout", [0, -1, None, True, "10"])
def test_wait_timeout_must_be_positive(timeout):
    fake = FakeSmolvm()
    with pytest.raises(MachineSpecError) as caught:
        manager_for(fake).ensure("vm1", state="started", wait=True, wait_timeout=timeout)
    assert "wait_timeout=" in str(caught.value)
    assert fake.calls == []


# --------------------------------------------------------------------------- labels, state_dir

@pytest.mark.parametrize("version, labelled", [("1.7.7", False), ("1.8.0", True), ("1.32.2", True)])
def test_labels_are_passed_on_create_only_where_smolvm_has_them(version, labelled):
    fake = FakeSmolvm(version)
    options = CreateOptions(labels={"bot_bottle.slug": "researcher-m3hxd", "team": "ml"})
    result = manager_for(fake).ensure("vm1", options=options)
    labels = ["--label", "bot_bottle.slug=researcher-m3hxd", "--label", "team=ml"]
    assert result.facts["commands"] == [[EXE, "machine", "create", "--name", "vm1"] + (labels if labelled else [])]
    if labelled:
        assert result.warnings == []
    else:
        assert result.warnings == [
            "labels (bot_bottle.slug=researcher-m3hxd, team=ml) were not set: smolvm 1.7.7 has no "
            "--label (it exists from 1.8.0)"]


@pytest.mark.parametrize("labels, message", [
    ({"a=b": "c"}, "labels key 'a=b' is not a label name"),
    ({"": "c"}, "labels key '' is not a label name"),
    ({"slug": True}, "labels slug=True is not a string"),
    ({"slug": None}, "labels slug=None is not a string"),
    ({"slug": "a\nb"}, "contains a control character"),
])
def test_bad_labels_name_the_bad_value(labels, message):
    with pytest.raises(MachineSpecError) as caught:
        CreateOptions(labels=labels)
    assert message in str(caught.value)


def test_state_dir_goes_before_the_subcommand_of_every_command_at_1_32_2(tmp_path):
    cli = SmolvmCli(EXE, None, (1, 32, 2))
    cli.use_state_dir(str(tmp_path / "state"))
    base = [EXE, "--state-dir", str(tmp_path / "state"), "machine"]
    assert cli.create_argv("vm1", CreateOptions()) == base + ["create", "--name", "vm1"]
    assert cli.start_argv("vm1") == base + ["start", "--name", "vm1"]
    assert cli.stop_argv("vm1") == base + ["stop", "--name", "vm1"]
    assert cli.delete_argv("vm1") == base + ["delete", "--name", "vm1", "-f"]
    assert cli.exec_argv("vm1", ["nc", "-z", 1]) == base + ["exec", "--name", "vm1", "--", "nc", "-z", "1"]
    assert cli.list_argv() == base + ["ls", "--json"]
    assert cli.update_allowlist_argv("vm1", ["10.0.0.0/8"]) == base + [
        "update", "--name", "vm1", "--reset-allow-list", "--allow-cidr", "10.0.0.0/8"]


@pytest.mark.parametrize("version", [(1, 7, 7), (1, 9, 1), (1, 20, 2)])
def test_state_dir_is_refused_where_smolvm_has_no_such_flag(version):
    cli = SmolvmCli(EXE, lambda argv: pytest.fail(f"ran {argv}"), version)
    with pytest.raises(MachineSpecError) as caught:
        cli.use_state_dir("/srv/smolvm")
    assert str(caught.value).startswith(
        f"state_dir='/srv/smolvm' cannot be used with smolvm {'.'.join(map(str, version))}: its "
        f"--state-dir flag exists from a version after 1.20.2")
    assert "SMOLVM_DATA_DIR" in str(caught.value)
    assert cli.state_dir is None
    assert cli.list_argv() == [EXE, "machine", "ls", "--json"]


@pytest.mark.parametrize("help_text, has_it", [
    ("Options:\n      --state-dir <DIR>  Keep state here\n", True),
    ("Options:\n      --verbose\n", False),
])
def test_a_version_between_the_measured_ones_is_asked_for_state_dir(help_text, has_it):
    asked = []

    def run(argv):
        asked.append(argv)
        return 0, help_text, ""
    cli = SmolvmCli(EXE, run, (1, 25, 0))
    assert cli.has_state_dir is has_it
    assert cli.has_state_dir is has_it
    assert asked == [[EXE, "--help"]]


def test_discover_with_state_dir_passes_it_on(tmp_path):
    exe = _make_file(tmp_path, "smolvm", 0o755)
    cli = SmolvmCli.discover(lambda argv: (0, "smolvm 1.32.2\n", ""), executable=exe,
                             state_dir=str(tmp_path / "s"))
    assert cli.state_dir == str(tmp_path / "s")
    assert cli.list_argv()[:3] == [str(exe), "--state-dir", str(tmp_path / "s")]


# --------------------------------------------------------------------------- delete that leaves the row

class LockedDelete(FakeSmolvm):
    """smolvm 1.4.0 under a locked DB: `delete -f` exits 0 with a warning and leaves the row, the
    first `leaves` times."""

    def __init__(self, leaves, **kwargs):
        super().__init__("1.4.0", **kwargs)
        self.leaves = leaves

    def _delete(self, rest):
        name, _more = self._name("delete", rest)
        if self.leaves:
            self.leaves -= 1
            return 0, "", "warning: failed to delete machine record: database is locked\n"
        return super()._delete(rest)


def test_a_delete_that_exits_0_but_leaves_the_row_is_run_again_until_the_row_is_gone():
    fake = LockedDelete(2, machines=[machine("vm1", "stopped")])
    clock = Clock()
    result = manager_for(fake, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0).ensure(
        "vm1", state="absent", db_timeout=30)
    deletes = [c for c in fake.calls if c[2] == "delete"]
    assert deletes == [[EXE, "machine", "delete", "--name", "vm1", "-f"]] * 3
    assert result.facts["commands"] == [[EXE, "machine", "delete", "--name", "vm1", "-f"]]
    assert result.facts["lock_retries"] == 2
    assert clock.slept == [0.1, 0.2]
    assert result.facts["machine"] == {}
    assert "vm1" not in fake.machines


def test_a_delete_that_keeps_leaving_the_row_fails_after_db_timeout_naming_the_machine():
    fake = LockedDelete(10 ** 6, machines=[machine("vm1", "stopped")])
    clock = Clock()
    with pytest.raises(SmolvmOutputError) as caught:
        manager_for(fake, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0).ensure(
            "vm1", state="absent", db_timeout=5)
    assert str(caught.value).startswith(
        "smolvm exited 0 but machine vm1 is still listed (state 'stopped')")
    assert sum(clock.slept) == pytest.approx(5)
    assert fake.machines["vm1"]["state"] == "stopped"


# --------------------------------------------------------------------------- allowlist_mismatch

@pytest.mark.parametrize("shown, asked, differs", [
    (["198.18.0.16/32"], ["198.18.0.16/32"], False),
    (["198.18.0.16/32", "10.0.0.0/8"], ["10.0.0.0/8", "198.18.0.16/32"], False),
    (["198.18.0.17/32"], ["198.18.0.16/32"], True),
    (None, ["198.18.0.16/32"], True),
])
def test_an_existing_machines_shown_allowlist_is_compared_at_1_32_2(shown, asked, differs):
    extra = {} if shown is None else {"allowed_cidrs": shown}
    fake = FakeSmolvm("1.32.2", [machine("vm1", "stopped", network=True, **extra)])
    options = CreateOptions(net=True, allow_cidrs=asked)
    result = manager_for(fake).ensure("vm1", options=options)
    assert result.changed is False
    assert fake.changing_calls() == []
    if differs:
        assert result.warnings == [
            f"machine vm1 already exists with allowed_cidrs {shown!r} (as `smolvm machine ls "
            f"--json` shows it), not {asked}; smolvm_machine does not change an existing machine: "
            f"set its list with bot_bottle.smolmachines.smolvm_allowlist, or delete and create it "
            f"again"]
    else:
        assert result.warnings == []


def test_allowlist_mismatch_fail_refuses_and_changes_nothing():
    fake = FakeSmolvm("1.32.2", [machine("vm1", "stopped", network=True, allowed_cidrs=["10.0.0.0/8"])])
    with pytest.raises(MachineSpecError) as caught:
        manager_for(fake).ensure("vm1", state="started", allowlist_mismatch="fail",
                                 options=CreateOptions(net=True, allow_cidrs=["198.18.0.16/32"]))
    assert str(caught.value).startswith("machine vm1 already exists with allowed_cidrs ['10.0.0.0/8']")
    assert str(caught.value).endswith("(allowlist_mismatch=fail)")
    assert fake.changing_calls() == []
    assert fake.machines["vm1"]["state"] == "stopped"


@pytest.mark.parametrize("version", ["1.7.7", "1.9.1"])
def test_no_allowlist_comparison_where_ls_does_not_show_it(version):
    fake = FakeSmolvm(version, [machine("vm1", "stopped", network=True)])
    result = manager_for(fake).ensure("vm1", allowlist_mismatch="fail",
                                      options=CreateOptions(net=True, allow_cidrs=["198.18.0.16/32"]))
    assert result.warnings == []
    assert result.changed is False
