# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.modules import bottle_alias_info

PREFIX = "bot-bottle-sidecars-"


@pytest.fixture
def run(run_module):
    return lambda args: run_module(bottle_alias_info, args)


def test_the_pool_with_bound_leased_and_free_aliases(run, docker, paths, tmp_path):
    docker.show((PREFIX + "a", "127.0.0.17"), (PREFIX + "z", "127.0.0.99"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "leases.json").write_text(json.dumps(
        {"version": 1, "leases": [{"slug": "b", "alias": "127.0.0.16", "expires_at": 4_000_000_000}]}))
    code, result = run(dict(first="127.0.0.16", last="127.0.0.18", **paths))
    assert code == 0
    assert result["changed"] is False
    assert result["aliases"] == [
        dict(alias="127.0.0.16", status="leased", slug="b", container=None, machine=None, expires_at=4_000_000_000,
             holders=[dict(kind="lease", name="b", slug="b")]),
        dict(alias="127.0.0.17", status="bound", slug="a", container=PREFIX + "a", machine=None, expires_at=None,
             holders=[dict(kind="container", name=PREFIX + "a", slug="a")]),
        dict(alias="127.0.0.18", status="free", slug=None, container=None, machine=None, expires_at=None,
             holders=[]),
    ]
    assert (result["free"], result["in_use"]) == (1, 2)
    assert [entry["alias"] for entry in result["outside_pool"]] == ["127.0.0.99"]
    assert not (tmp_path / "c" / "smolmachines.lock").exists()


def test_an_empty_host_is_all_free_in_the_default_pool_and_nothing_is_created(run, docker, paths, tmp_path):
    code, result = run(dict(paths))
    assert code == 0
    assert (result["free"], result["in_use"], len(result["aliases"])) == (16, 0, 16)
    assert result["aliases"][0]["alias"] == "198.18.0.16"
    assert (result["machines"], result["everywhere"]) == ([], [])
    assert not (tmp_path / "c").exists()


def test_a_container_on_every_address_is_listed(run, docker, paths):
    docker.show(("web", "0.0.0.0"))
    code, result = run(dict(paths))
    assert code == 0
    assert result["everywhere"] == [dict(container="web", ports=["32768->9099/tcp on 0.0.0.0"])]


def test_the_holder_listing_shows_which_machine_holds_which_address(run, docker, paths, smolvm_db):
    smolvm_db(paths["smolvm_db_path"], **{"bot-bottle-a": ["198.18.0.17/32"], "wide": ["198.18.0.20/31"]})
    code, result = run(dict(last="198.18.0.21", **paths))
    assert code == 0
    held = {e["alias"]: (e["status"], e["slug"], e["machine"]) for e in result["aliases"] if e["status"] != "free"}
    assert held == {"198.18.0.17": ("machine", "a", "bot-bottle-a"), "198.18.0.20": ("machine", None, "wide"),
                    "198.18.0.21": ("machine", None, "wide")}
    assert [(m["machine"], m["aliases"]) for m in result["machines"]] == [
        ("bot-bottle-a", ["198.18.0.17"]), ("wide", ["198.18.0.20", "198.18.0.21"])]


def test_docker_unreachable_fails(run, paths, tmp_path):
    host = f"unix://{tmp_path}/dead.sock"
    code, result = run(dict(docker_host=host, **paths))
    assert code == 1
    assert result["msg"].startswith(f"cannot read the Docker engine at {host}: ")


def test_docker_sdk_missing_gives_the_usual_message(run, paths, monkeypatch):
    monkeypatch.setattr(bottle_alias_info, "HAS_DOCKER", False)
    code, result = run(dict(paths))
    assert code == 1
    assert "Failed to import the required Python library (docker)" in result["msg"]
