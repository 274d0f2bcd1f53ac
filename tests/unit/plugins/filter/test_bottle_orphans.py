# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.filter.bottle_orphans import (
    OWNER_LABEL, FilterModule, bottle_orphans)

DB = "/home/me/.local/share/smolvm/server/smolvm.db"


def machine(slug):
    return {"name": f"bot-bottle-{slug}", "state": "stopped"}


def container(slug, db_path=None):
    labels = {OWNER_LABEL: db_path} if db_path else {}
    return {"Names": [f"/bot-bottle-sidecars-{slug}"], "Labels": labels}


def network(slug, db_path=None):
    labels = {OWNER_LABEL: db_path} if db_path else {}
    return {"Name": f"bot-bottle-bundle-{slug}", "Labels": labels}


def lease(slug):
    return {"alias": "198.18.0.16", "status": "leased",
            "holders": [{"kind": "lease", "name": slug, "slug": slug}]}


def test_a_whole_bottle_is_kept_and_nothing_is_reported():
    result = bottle_orphans([machine("a")], [container("a")], [network("a")], db_path=DB)
    assert result == {"orphans": [], "left_alone": []}


@pytest.mark.parametrize("machines, containers, networks, parts", [
    ([machine("a")], [], [], ["machine"]),
    ([machine("a")], [container("a")], [], ["machine", "container"]),
    ([machine("a")], [], [network("a")], ["machine", "network"]),
    ([], [container("a", DB)], [network("a")], ["container", "network"]),
    ([], [], [network("a", DB)], ["network"]),
])
def test_a_bottle_of_this_user_that_is_not_whole_is_reaped(machines, containers, networks, parts):
    result = bottle_orphans(machines, containers, networks, db_path=DB)
    assert result == {"orphans": [{"slug": "a", "parts": parts}], "left_alone": []}


@pytest.mark.parametrize("labelled", [None, "/home/other/.local/share/smolvm/server/smolvm.db"])
def test_docker_parts_without_this_users_vm_or_label_are_left_alone(labelled):
    result = bottle_orphans([], [container("b", labelled)], [network("b", labelled)], db_path=DB)
    assert result["orphans"] == []
    assert [(entry["slug"], entry["parts"]) for entry in result["left_alone"]] == [("b", ["container", "network"])]
    assert "another user's" in result["left_alone"][0]["reason"]


def test_a_bottle_with_a_live_lease_is_left_alone_even_when_it_is_this_users():
    result = bottle_orphans([machine("c")], [], [], aliases=[lease("c")], db_path=DB)
    assert result["orphans"] == []
    assert result["left_alone"] == [{"slug": "c", "parts": ["machine"],
                                     "reason": "it holds a live alias lease: a launch is under way"}]


def test_names_only_count_with_the_exact_prefix_and_a_slug():
    machines = [{"name": "bot-bottle-"}, {"name": "my-bot-bottle-x"}, {"name": "other"}]
    containers = [{"Names": ["/bot-bottle-sidecars-"]}, {"Names": ["/x-bot-bottle-sidecars-y"]}]
    networks = [{"Name": "bot-bottle-bundle-"}, {"Name": "bridge"}]
    assert bottle_orphans(machines, containers, networks, db_path=DB) == {"orphans": [], "left_alone": []}


def test_match_limits_the_slugs_considered_and_orphans_are_sorted():
    machines = [machine("zeta-1"), machine("alpha-1"), machine("alpha-2")]
    result = bottle_orphans(machines, [], [], db_path=DB, match="^alpha")
    assert [entry["slug"] for entry in result["orphans"]] == ["alpha-1", "alpha-2"]


@pytest.mark.parametrize("kwargs, message", [
    ({"machines": "nope"}, "machines must be a list of dictionaries"),
    ({"containers": [1]}, "containers must be a list of dictionaries"),
    ({"match": "("}, "match='(' is not a regular expression"),
])
def test_bad_input_fails_naming_it(kwargs, message):
    args = {"machines": [], "containers": [], "networks": [], **kwargs}
    with pytest.raises(AnsibleFilterError) as caught:
        bottle_orphans(**args)
    assert message in str(caught.value)


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters()["bottle_orphans"] is bottle_orphans
