# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottle_input_errors filter: every input the bottle role refuses before it creates or
removes anything, each message naming the bad value."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.filter.bottle_input_errors import FilterModule

bottle_input_errors = FilterModule().filters()["bottle_input_errors"]

# The role's defaults, with the two inputs a launch needs.
GOOD = {
    "bottle_slug": "researcher-m3hxd",
    "bottle_bundle_stop_timeout": None,
    "bottle_smolmachine": "/srv/agent.smolmachine",
    "bottle_bundle_image": "bot-bottle/sidecars:1",
    "bottle_bundle_ports": [9099, 9418],
    "bottle_proxy_port": 9099,
    "bottle_no_proxy": [],
    "bottle_guest_env": {},
    "bottle_guest_url_env": {"GIT_URL": {"port": 9418, "scheme": "git"}},
    "bottle_lease_ttl": 900,
    "bottle_wait_timeout": 120,
    "bottle_smolvm_db_timeout": 15,
    "bottle_cpus": None,
    "bottle_mem": None,
    "bottle_pool_first": "198.18.0.16",
    "bottle_pool_last": "198.18.0.31",
}
A_FILE = {"exists": True, "isreg": True}

SLUG_MESSAGE = ("cannot name the bottle's VM (bot-bottle-{slug}), container and network: expected 1 to 29 ASCII "
                "letters, digits, '-' or '_', starting with a letter or digit, not ending with '-' and without "
                "'--', for example researcher-m3hxd")


def errors(state="present", stat="a file", backend="virtio-net", **changes):
    stat = A_FILE if stat == "a file" else stat
    return bottle_input_errors(dict(GOOD, **changes), state=state, smolmachine_stat=stat, host="devbox",
                               backend=backend)


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("changes", [
    {},
    {"bottle_slug": "a"},
    {"bottle_slug": "A_" + "9" * 27},
    {"bottle_bundle_stop_timeout": 1},
    {"bottle_bundle_stop_timeout": "30"},
    {"bottle_bundle_ports": ["9099", "9418"], "bottle_proxy_port": "9099"},
    {"bottle_proxy_port": None, "bottle_guest_url_env": {"MCP_URL": 9418}},
    {"bottle_guest_url_env": {}, "bottle_no_proxy": ["pypi.org", "10.0.0.0/8"]},
    {"bottle_smolvm_db_timeout": 0.5, "bottle_lease_ttl": "60", "bottle_cpus": 2, "bottle_mem": "2048"},
])
def test_usable_inputs_give_no_error(state, changes):
    assert errors(state, **changes) == []


@pytest.mark.parametrize("slug", [
    "br--x", "br-x-", "br.x", "-br", "_br", "", "a" * 30, "br x", "bröt", "br-x\n", " br", None, 12, ["br"],
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_slug_that_cannot_name_the_parts_is_refused_for_both_states(slug, state):
    assert errors(state, bottle_slug=slug) == [
        f"bottle_slug={__import__('json').dumps(slug)} " + SLUG_MESSAGE.format(slug=slug)]


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("timeout, shown", [(0, "0"), (-1, "-1"), ("0", '"0"'), (1.5, "1.5"), (True, "true"), ("x", '"x"')])
def test_a_stop_timeout_below_one_second_is_refused_for_both_states(state, timeout, shown):
    assert errors(state, bottle_bundle_stop_timeout=timeout) == [
        f"bottle_bundle_stop_timeout={shown} must be 1 or more seconds, or null for Docker's default (10 seconds or "
        f"the image's StopTimeout): community.docker treats 0 as unset, so Docker would wait 10 seconds before "
        f"killing the bundle"]


@pytest.mark.parametrize("changes, expected", [
    ({"bottle_smolmachine": None},
     "bottle_smolmachine=null must be set to the packed .smolmachine the VM boots to launch a bottle"),
    ({"bottle_smolmachine": "  "},
     'bottle_smolmachine="  " must be set to the packed .smolmachine the VM boots to launch a bottle'),
    ({"bottle_bundle_image": None},
     "bottle_bundle_image=null must be set to the sidecar bundle's image to launch a bottle"),
    ({"bottle_bundle_image": 7},
     "bottle_bundle_image=7 must be set to the sidecar bundle's image to launch a bottle"),
    ({"bottle_bundle_ports": [9099, 70000]},
     "bottle_bundle_ports=[9099, 70000] must list distinct TCP ports from 1 to 65535, at least one (70000 is not one)"),
    ({"bottle_bundle_ports": [9099, 9099]},
     "bottle_bundle_ports=[9099, 9099] must list distinct TCP ports from 1 to 65535, at least one (9099 is given twice)"),
    ({"bottle_bundle_ports": [], "bottle_proxy_port": None, "bottle_guest_url_env": {}},
     "bottle_bundle_ports=[] must list distinct TCP ports from 1 to 65535, at least one (at least one)"),
    ({"bottle_bundle_ports": [9099, "94x8"], "bottle_guest_url_env": {}},
     'bottle_bundle_ports=[9099, "94x8"] must list distinct TCP ports from 1 to 65535, at least one ("94x8" is not one)'),
    ({"bottle_bundle_ports": 9099, "bottle_proxy_port": None, "bottle_guest_url_env": {}},
     "bottle_bundle_ports=9099 must list distinct TCP ports from 1 to 65535, at least one (at least one)"),
    ({"bottle_bundle_ports": [9418]},
     "bottle_proxy_port=9099 must be one of bottle_bundle_ports=[9418], or null for a bundle without a proxy"),
    ({"bottle_proxy_port": "http"},
     'bottle_proxy_port="http" must be one of bottle_bundle_ports=[9099, 9418], or null for a bundle without a proxy'),
    ({"bottle_bundle_ports": [9099]},
     "bottle_guest_url_env.GIT_URL names port 9418, which is not one of bottle_bundle_ports=[9099]"),
    ({"bottle_guest_url_env": {"GIT_URL": {"port": 9418, "schema": "git"}}},
     'bottle_guest_url_env.GIT_URL={"port": 9418, "schema": "git"} has unknown keys ["schema"]; expected port and scheme'),
    ({"bottle_guest_url_env": {"GIT_URL": {"scheme": "git"}}},
     'bottle_guest_url_env.GIT_URL={"scheme": "git"} needs a TCP port from 1 to 65535, for example {port: 9418, scheme: git}'),
    ({"bottle_guest_url_env": {"GIT_URL": {"port": 9418, "scheme": "git://"}}},
     'bottle_guest_url_env.GIT_URL={"port": 9418, "scheme": "git://"} has scheme "git://"; expected letters, digits, '
     "'+', '-' or '.', starting with a letter, for example git"),
    ({"bottle_guest_url_env": ["GIT_URL"]},
     'bottle_guest_url_env=["GIT_URL"] must be a mapping of guest variable names to a port or {port: PORT, scheme: SCHEME}'),
    ({"bottle_no_proxy": "pypi.org"}, 'bottle_no_proxy="pypi.org" must be a list of host names or addresses'),
    ({"bottle_no_proxy": ["pypi.org", None]}, 'bottle_no_proxy=["pypi.org", null] must be a list of host names or addresses'),
    ({"bottle_guest_env": ["A=1"]}, 'bottle_guest_env=["A=1"] must be a mapping of variable names to values'),
    ({"bottle_lease_ttl": 0}, "bottle_lease_ttl=0 must be a positive whole number of seconds"),
    ({"bottle_lease_ttl": 1.5}, "bottle_lease_ttl=1.5 must be a positive whole number of seconds"),
    ({"bottle_wait_timeout": -5}, "bottle_wait_timeout=-5 must be a positive whole number of seconds"),
    ({"bottle_wait_timeout": None}, "bottle_wait_timeout=null must be a positive whole number of seconds"),
    ({"bottle_smolvm_db_timeout": 0}, "bottle_smolvm_db_timeout=0 must be a positive number of seconds"),
    ({"bottle_smolvm_db_timeout": float("inf")}, "bottle_smolvm_db_timeout=Infinity must be a positive number of seconds"),
    ({"bottle_smolvm_db_timeout": "nan"}, 'bottle_smolvm_db_timeout="nan" must be a positive number of seconds'),
    ({"bottle_smolvm_db_timeout": False}, "bottle_smolvm_db_timeout=false must be a positive number of seconds"),
    ({"bottle_cpus": 0}, "bottle_cpus=0 must be a positive whole number, or null for smolvm's default"),
    ({"bottle_mem": "lots"}, 'bottle_mem="lots" must be a positive whole number, or null for smolvm\'s default'),
])
def test_each_bad_launch_input_is_refused_naming_its_value(changes, expected):
    assert errors("present", **changes) == [expected]
    # A teardown does not use them.
    assert errors("absent", **changes) == []


@pytest.mark.parametrize("stat", [{"exists": False}, {"exists": True, "isreg": False}])
def test_a_packed_machine_that_is_not_a_file_is_refused_naming_the_host(stat):
    assert errors(stat=stat) == [
        "bottle_smolmachine=/srv/agent.smolmachine is not a file on devbox; give the path of the packed .smolmachine "
        "the bottle's VM boots"]


def test_an_unset_packed_machine_is_not_also_reported_missing_and_no_stat_skips_the_file_check():
    assert errors(stat={"exists": False}, bottle_smolmachine=None) == [
        "bottle_smolmachine=null must be set to the packed .smolmachine the VM boots to launch a bottle"]
    assert errors(stat=None) == []


def test_every_bad_input_is_reported_at_once():
    found = errors(stat={"exists": False}, bottle_slug="br--x", bottle_bundle_stop_timeout=0,
                   bottle_bundle_ports=[9099, 9099], bottle_lease_ttl=0, bottle_wait_timeout=0, bottle_smolvm_db_timeout=0)

    assert [message.split("=", 1)[0] for message in found] == [
        "bottle_slug", "bottle_bundle_stop_timeout", "bottle_smolmachine", "bottle_bundle_ports",
        "bottle_lease_ttl", "bottle_wait_timeout", "bottle_smolvm_db_timeout"]


@pytest.mark.parametrize("inputs, state, expected", [
    (["bottle_slug"], "present", 'expected the role\'s inputs as a mapping, got ["bottle_slug"]'),
    (GOOD, "started", 'state="started" must be present or absent'),
])
def test_a_call_the_role_never_makes_fails(inputs, state, expected):
    with pytest.raises(AnsibleFilterError) as caught:
        bottle_input_errors(inputs, state=state)

    assert str(caught.value) == f"bottle_input_errors: {expected}"


LOOPBACK_POOL_MESSAGE = (
    "the pool {first}-{last} lies inside 127.0.0.0/8, but {installed} puts a VM with an allowlist on the virtio-net "
    "backend (smolvm 1.1.3 and later), where the guest's 127.0.0.0/8 is its own loopback: the guest could not "
    "reach its sidecars on the host. Set bottle_pool_first and bottle_pool_last to a range outside 127.0.0.0/8 "
    "that the host holds on its loopback interface, for example the default 198.18.0.16-198.18.0.31 (the role "
    "adds it to lo with bottle_pool_manage)")


@pytest.mark.parametrize("first, last", [("127.0.0.16", "127.0.0.31"), ("127.0.0.4", "127.0.0.52"),
                                         ("127.255.0.1", "127.255.255.254")])
def test_a_pool_touching_127_8_is_refused_under_virtio_net_saying_why_and_what_to_set(first, last):
    found = bottle_input_errors(dict(GOOD, bottle_pool_first=first, bottle_pool_last=last), backend="virtio-net",
                                smolvm_version="1.32.2")

    assert found == [LOOPBACK_POOL_MESSAGE.format(first=first, last=last, installed="smolvm 1.32.2")]


@pytest.mark.parametrize("backend", ["tsi", None])
def test_a_127_8_pool_stays_allowed_for_tsi_era_smolvm_and_an_unknown_backend(backend):
    assert errors(backend=backend, bottle_pool_first="127.0.0.16", bottle_pool_last="127.0.0.31") == []


def test_the_loopback_pool_message_names_the_installed_smolvm_only_when_known():
    found = errors(bottle_pool_first="127.0.0.16", bottle_pool_last="127.0.0.31")

    assert found == [LOOPBACK_POOL_MESSAGE.format(first="127.0.0.16", last="127.0.0.31",
                                                  installed="the installed smolvm")]


def test_the_pool_is_not_checked_for_a_teardown():
    assert errors("absent", bottle_pool_first="127.0.0.16", bottle_pool_last="nonsense") == []


@pytest.mark.parametrize("first, last, expected", [
    ("198.18.0.31", "198.18.0.16", 'bottle_pool_first="198.18.0.31" and bottle_pool_last="198.18.0.16": '
                                   "first=198.18.0.31 is above last=198.18.0.16"),
    ("198.18.0", "198.18.0.31", 'bottle_pool_first="198.18.0" and bottle_pool_last="198.18.0.31": '
                                "first='198.18.0' is not an IPv4 address"),
    (None, "::1", 'bottle_pool_first=null and bottle_pool_last="::1": first=\'None\' is not an IPv4 address'),
    ("126.255.255.250", "127.0.0.1", 'bottle_pool_first="126.255.255.250" and bottle_pool_last="127.0.0.1": '
                                     "last=127.0.0.1 is reserved"),
    ("127.255.255.250", "128.0.0.1", 'bottle_pool_first="127.255.255.250" and bottle_pool_last="128.0.0.1": '
                                     "the pool 127.255.255.250-128.0.0.1 crosses the edge of 127.0.0.0/8"),
    ("100.96.0.0", "100.96.0.14", "the pool 100.96.0.0-100.96.0.14 overlaps 100.96.0.0/30"),
])
def test_a_pool_bottle_alias_would_refuse_is_refused_naming_both_ends(first, last, expected):
    [found] = errors(bottle_pool_first=first, bottle_pool_last=last)
    assert expected in found


def test_an_unknown_backend_is_a_call_the_role_never_makes():
    with pytest.raises(AnsibleFilterError) as caught:
        bottle_input_errors(GOOD, backend="slirp")

    assert str(caught.value) == 'bottle_input_errors: backend="slirp" must be tsi, virtio-net or null (unknown)'
