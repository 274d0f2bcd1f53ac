# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils import alias_allocator
from ansible_collections.bot_bottle.smolmachines.plugins.modules import bottle_alias

PREFIX = "bot-bottle-sidecars-"


@pytest.fixture
def run(run_module):
    return lambda args: run_module(bottle_alias, args)


def test_present_leases_the_lowest_free_alias(run, docker, paths):
    docker.show((PREFIX + "other", "198.18.0.16"))
    code, result = run(dict(slug="a", **paths))
    assert code == 0
    assert (result["changed"], result["alias"], result["source"]) == (True, "198.18.0.17", "allocated")
    assert result["lease"]["alias"] == "198.18.0.17"
    assert result["lease"]["slug"] == "a"
    assert result["container"] is None
    assert "diff" not in result
    assert docker.calls == 1
    with open(paths["lease_path"], encoding="utf-8") as handle:
        assert [lease["alias"] for lease in json.load(handle)["leases"]] == ["198.18.0.17"]


def test_check_mode_with_diff_writes_nothing(run, docker, paths, tmp_path):
    code, result = run(dict(slug="a", _ansible_check_mode=True, _ansible_diff=True, **paths))
    assert code == 0
    assert (result["changed"], result["alias"]) == (True, "198.18.0.16")
    assert result["diff"]["before"] == {"version": 1, "leases": []}
    assert [lease["alias"] for lease in result["diff"]["after"]["leases"]] == ["198.18.0.16"]
    assert not (tmp_path / "c").exists()


def test_a_second_call_is_unchanged(run, docker, paths):
    run(dict(slug="a", **paths))
    code, result = run(dict(slug="a", _ansible_diff=True, **paths))
    assert code == 0
    assert (result["changed"], result["alias"], result["source"]) == (False, "198.18.0.16", "leased")
    assert result["diff"]["before"] == result["diff"]["after"]


def test_the_default_pool_is_outside_127_8(run, docker, paths):
    code, result = run(dict(slug="a", **paths))
    assert (code, result["alias"], result["source"]) == (0, "198.18.0.16", "allocated")


@pytest.mark.parametrize("address", ["192.168.1.20", "127.0.0.200"])
def test_a_bound_address_outside_the_pool_fails_naming_the_container(run, docker, paths, address):
    # Issue 12, item 3: the old code returned it with a warning and the role confined the VM to it.
    docker.show((PREFIX + "a", address))
    code, result = run(dict(slug="a", **paths))
    assert code == 1
    assert result["msg"].startswith(f"bundle container {PREFIX}a publishes on {address}, outside the pool "
                                    f"198.18.0.16-198.18.0.31 (16 aliases)")
    assert (result["container"], result["aliases"]) == (PREFIX + "a", [address])
    assert not os.path.exists(paths["lease_path"])


def test_a_stopped_bottles_vm_keeps_its_address_from_the_next_launch(run, docker, paths, smolvm_db):
    # Issue 12, item 1: A's bundle stopped (no container), A's VM still allowed 198.18.0.16: B gets another.
    smolvm_db(paths["smolvm_db_path"], **{"bot-bottle-a": ["198.18.0.16/32"]})
    code, result = run(dict(slug="b", **paths))
    assert (code, result["alias"], result["source"]) == (0, "198.18.0.17", "allocated")
    code, result = run(dict(slug="a", **paths))
    assert (code, result["alias"], result["source"], result["machine"], result["changed"]) == (
        0, "198.18.0.16", "machine", "bot-bottle-a", False)


def test_an_unreadable_smolvm_db_fails_closed(run, docker, paths):
    os.makedirs(os.path.dirname(paths["smolvm_db_path"]))
    with open(paths["smolvm_db_path"], "w", encoding="utf-8") as handle:
        handle.write("not a database")
    code, result = run(dict(slug="a", **paths))
    assert code == 1
    assert result["msg"].startswith("cannot read which addresses smolvm's machines may reach: ")
    assert not os.path.exists(paths["lease_path"])


def test_smolvm_state_dir_names_the_db_inside_it(run, docker, paths, smolvm_db, tmp_path):
    state = tmp_path / "state"
    smolvm_db(str(state / ".local/share/smolvm/server/smolvm.db"), **{"x": ["198.18.0.16/31"]})
    args = dict(paths, smolvm_state_dir=str(state))
    del args["smolvm_db_path"]
    code, result = run(dict(slug="a", **args))
    assert (code, result["alias"]) == (0, "198.18.0.18")


def test_smolvm_db_path_and_state_dir_are_exclusive(run, docker, paths, tmp_path):
    code, result = run(dict(slug="a", smolvm_state_dir=str(tmp_path), **paths))
    assert code == 1
    assert "mutually exclusive" in result["msg"]


@pytest.mark.parametrize("option, value", [
    ("slug", "a\n"), ("prefix", "bot-bottle-sidecars-\n"), ("lock_path", "/tmp/x.lock\n"),
    ("lease_path", " /tmp/l.json"), ("first", "198.18.0.16\n"), ("smolvm_db_path", "/tmp/db\n"),
])
def test_a_value_with_a_trailing_newline_fails_naming_it(run, docker, paths, option, value):
    # Issue 12, item 5: a YAML folded scalar ends with a newline.
    code, result = run(dict(dict(slug="a", **paths), **{option: value}))
    assert code == 1
    assert f"{option}={value!r}" in result["msg"]
    assert not os.path.exists(paths["lease_path"])


def test_lock_path_equal_to_lease_path_fails_before_docker_is_asked(run, docker, paths):
    code, result = run(dict(paths, slug="a", lock_path=paths["lease_path"]))
    assert code == 1
    assert f"lock_path and lease_path both name {paths['lease_path']}" in result["msg"]
    assert docker.params == []


def test_absent_releases_without_asking_docker(run, docker, paths):
    run(dict(slug="a", **paths))
    code, result = run(dict(slug="a", state="absent", **paths))
    assert code == 0
    assert (result["changed"], result["alias"], result["source"], result["lease"]) == (True, None, "released", None)
    assert len(docker.params) == 1
    code, result = run(dict(slug="a", state="absent", **paths))
    assert (result["changed"], result["source"]) == (False, "none")


def test_the_docker_options_reach_the_client(run, docker, paths, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/from-env.sock")
    monkeypatch.setenv("DOCKER_TIMEOUT", "7")
    run(dict(slug="a", **paths))
    run(dict(slug="a", docker_url="tcp://192.0.2.1:2375", docker_api_version="1.41", **paths))
    first, second = docker.params
    assert (first["docker_host"], first["timeout"], first["api_version"]) == ("unix:///tmp/from-env.sock", 7, "auto")
    assert (second["docker_host"], second["api_version"]) == ("tcp://192.0.2.1:2375", "1.41")


def test_docker_unreachable_fails_and_writes_nothing(run, paths, tmp_path):
    host = f"unix://{tmp_path}/dead.sock"
    code, result = run(dict(slug="a", docker_host=host, **paths))
    assert code == 1
    assert result["failed"] is True
    assert result["msg"].startswith(f"cannot read the Docker engine at {host}: ")
    assert "make sure the engine runs and docker_host (or DOCKER_HOST) names it" in result["msg"]
    assert not (tmp_path / "c").exists()


def test_docker_sdk_missing_gives_the_usual_message(run, paths, monkeypatch, failures):
    monkeypatch.setattr(bottle_alias, "HAS_DOCKER", False)
    monkeypatch.setattr(bottle_alias, "DOCKER_IMPORT_ERROR", "Traceback: No module named 'docker'")
    code, result = run(dict(slug="a", **paths))
    assert code == 1
    assert "Failed to import the required Python library (docker)" in result["msg"]
    assert failures[0]["exception"] == "Traceback: No module named 'docker'"


def test_docker_sdk_missing_does_not_stop_a_release(run, paths, monkeypatch):
    monkeypatch.setattr(bottle_alias, "HAS_DOCKER", False)
    code, result = run(dict(slug="a", state="absent", **paths))
    assert (code, result["changed"], result["source"]) == (0, False, "none")


# In a fresh interpreter, as Ansible runs a module: does the call import the Docker SDK?
_IMPORTS_DOCKER = textwrap.dedent("""
    import json, sys
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.bot_bottle.smolmachines.plugins.modules import bottle_alias
    with patch_module_args(json.loads(sys.argv[1])):
        try:
            bottle_alias.main()
        except SystemExit:
            pass
    print("docker" in sys.modules, file=sys.stderr)
""")


@pytest.mark.parametrize("state, imports_docker", [("absent", "False"), ("present", "True")])
def test_only_a_call_that_reads_docker_imports_the_sdk(paths, tmp_path, state, imports_docker):
    # Importing the SDK costs about 80 ms (docs/performance.md); a release never talks to Docker.
    args = dict(slug="a", state=state, docker_host=f"unix://{tmp_path}/dead.sock", **paths)
    done = subprocess.run([sys.executable, "-c", _IMPORTS_DOCKER, json.dumps(args)], capture_output=True,
                          text=True, check=False, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert json.loads(done.stdout)["failed" if state == "present" else "changed"] is (state == "present")
    assert done.stderr.strip().splitlines()[-1] == imports_docker


def test_an_exhausted_pool_fails_naming_the_holders(run, docker, paths):
    docker.show((PREFIX + "b", "127.0.0.16"))
    code, result = run(dict(slug="a", first="127.0.0.16", last="127.0.0.16", **paths))
    assert code == 1
    assert result["msg"].startswith("alias pool exhausted: 1 of 1 aliases of 127.0.0.16-127.0.0.16 (1 aliases) "
                                    f"in use (127.0.0.16 bound by {PREFIX}b)")
    assert result["holders"] == [dict(alias="127.0.0.16", status="bound", slug="b", container=PREFIX + "b",
                                      machine=None, expires_at=None,
                                      holders=[dict(kind="container", name=PREFIX + "b", slug="b")])]
    assert result["slug"] == "a"


@pytest.mark.parametrize("args, message", [
    (dict(first="127.0.0.1"), "first=127.0.0.1 is reserved"),
    (dict(prefix="bad prefix"), "prefix='bad prefix' cannot start a container name"),
    (dict(slug="no/slash"), "slug='no/slash' cannot name a bottle"),
    (dict(lease_ttl=0), "lease_ttl=0 is not a whole number of seconds from 1 to 604800"),
    (dict(lock_timeout=float("inf")), "lock_timeout=inf is not a positive, finite number of seconds"),
    (dict(first="100.96.0.0", last="100.96.0.9"), "overlaps 100.96.0.0/30"),
])
def test_bad_options_fail_with_the_bad_value(run, docker, paths, args, message):
    code, result = run(dict(dict(slug="a", **paths), **args))
    assert code == 1
    assert message in result["msg"]


def test_a_corrupt_lease_file_fails_naming_it(run, docker, paths, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "leases.json").write_text("[]")
    code, result = run(dict(slug="a", **paths))
    assert code == 1
    assert f"the lease file {paths['lease_path']} is not a valid lease table" in result["msg"]


def test_an_unexpected_error_carries_its_traceback(run, docker, paths, monkeypatch, failures):
    def explode(self, slug, check_mode=False):
        raise KeyError("surprise")

    monkeypatch.setattr(alias_allocator.AliasAllocator, "ensure_present", explode)
    code, result = run(dict(slug="a", **paths))
    assert code == 1
    assert result["msg"] == "unexpected error while handling the alias of 'a': KeyError('surprise')"
    assert "KeyError: 'surprise'" in failures[0]["exception"]
