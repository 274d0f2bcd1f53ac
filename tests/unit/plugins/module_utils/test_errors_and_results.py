# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error base and the one result type: every error of module_utils is a BottleError, its
facts reach fail_json, and a ModuleResult exits with exactly its facts."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins import module_utils
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError, fail_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult, exit_with
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import SmolvmCommandError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_probe import ProbeError

# Callers catch these as ValueError too.
VALUE_ERRORS = {"CidrError", "PoolError", "RecordParseError", "TextInputError"}


def error_classes():
    found = {}
    for info in pkgutil.iter_modules(module_utils.__path__):
        module = importlib.import_module(f"{module_utils.__name__}.{info.name}")
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__):
                found[name] = value
    return found


def test_the_errors_are_found():
    assert {"AliasError", "CidrError", "DockerStateError", "LeaseError", "LoopbackError", "PoolError",
            "ProbeError", "RecordParseError", "SmolvmDbError", "SmolvmError", "TextInputError"} <= set(error_classes())


@pytest.mark.parametrize("name", sorted(set(error_classes()) - {"BottleError"}))
def test_every_error_of_module_utils_is_a_bottle_error(name):
    cls = error_classes()[name]
    assert issubclass(cls, BottleError)
    assert issubclass(cls, ValueError) is (name in VALUE_ERRORS)


class FakeModule:
    _diff = False

    def __init__(self):
        self.failed = None
        self.exited = None
        self.warnings = []

    def fail_json(self, **result):
        self.failed = result

    def exit_json(self, **result):
        self.exited = result

    def warn(self, warning):
        self.warnings.append(warning)


def test_the_errors_facts_reach_fail_json_and_win_over_what_the_module_knows():
    module = FakeModule()
    fail_with(module, BottleError("pool exhausted", holders=["a"], slug="from-error"), slug="known", changed=False)
    assert module.failed == dict(msg="pool exhausted", holders=["a"], slug="from-error", changed=False)


def test_a_smolvm_command_error_returns_only_the_command_facts_it_has():
    error = SmolvmCommandError("smolvm machine start failed", argv=["smolvm", "machine", "start"], rc=1,
                               stderr="Error: boom")
    assert error.facts == dict(cmd=["smolvm", "machine", "start"], rc=1, stderr="Error: boom")
    assert (error.argv, error.rc, error.stdout, error.stderr) == (["smolvm", "machine", "start"], 1, None, "Error: boom")
    module = FakeModule()
    fail_with(module, error, changed=False, commands=[])
    assert module.failed == dict(msg="smolvm machine start failed", cmd=["smolvm", "machine", "start"], rc=1,
                                 stderr="Error: boom", changed=False, commands=[])


def test_a_probe_error_returns_the_probes_that_ran_instead_of_none():
    ran = [dict(host="127.0.0.1", port=1, expected="unreachable", reached=True)]
    module = FakeModule()
    fail_with(module, ProbeError("not confined", results=ran, rc=0), changed=False, results=[])
    assert module.failed == dict(msg="not confined", results=ran, rc=0, changed=False)


def test_a_result_returns_its_diff_only_in_diff_mode_and_warns_instead_of_returning_warnings():
    result = ModuleResult(True, diff=dict(before=1, after=2), warnings=["careful"], alias="198.18.0.16")
    assert result.as_dict() == dict(changed=True, alias="198.18.0.16")
    assert result.as_dict(diff=True) == dict(changed=True, alias="198.18.0.16", diff=dict(before=1, after=2))
    module = FakeModule()
    module._diff = True
    exit_with(module, result, smolvm_version="1.32.2", alias="known")
    assert module.exited == dict(changed=True, alias="198.18.0.16", smolvm_version="1.32.2",
                                 diff=dict(before=1, after=2))
    assert module.warnings == ["careful"]


def test_a_result_without_a_diff_returns_none_in_diff_mode():
    assert ModuleResult(False, results=[]).as_dict(diff=True) == dict(changed=False, results=[])
