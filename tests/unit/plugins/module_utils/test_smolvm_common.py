# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import SmolvmNotFoundError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_common import discover_cli


class Module:
    """The two AnsibleModule methods discover_cli uses: Ansible's executable lookup and run_command."""

    def __init__(self, bin_paths, executable="smolvm"):
        self.params = dict(executable=executable, state_dir=None)
        self.bin_paths = bin_paths
        self.looked_up = []
        self.ran = []

    def get_bin_path(self, name):
        self.looked_up.append(name)
        return self.bin_paths.get(name)

    def run_command(self, argv, **kwargs):
        self.ran.append(list(argv))
        return 0, "smolvm 1.32.2\n", ""


@pytest.fixture
def smolvm(tmp_path):
    exe = tmp_path / "sbin" / "smolvm"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return str(exe)


def test_a_bare_name_is_found_by_the_modules_own_lookup(smolvm):
    module = Module({"smolvm": smolvm})
    cli = discover_cli(module)
    assert (module.looked_up, cli.executable, cli.version) == (["smolvm"], smolvm, (1, 32, 2))
    assert module.ran == [[smolvm, "--version"]]


def test_a_path_is_used_as_given_without_a_lookup(smolvm):
    module = Module({}, executable=smolvm)
    assert discover_cli(module).executable == smolvm
    assert module.looked_up == []


def test_a_name_nothing_finds_is_named_with_the_path_searched(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    module = Module({})
    with pytest.raises(SmolvmNotFoundError) as caught:
        discover_cli(module)
    assert str(caught.value).startswith(f"smolvm executable 'smolvm' was not found on PATH ({tmp_path}); ")
    assert module.ran == []
