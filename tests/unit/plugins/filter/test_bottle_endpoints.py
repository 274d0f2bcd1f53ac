# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottle_endpoints filter: host ports, URLs, guest environment and the confinement proof the
bottle role used to compute in Jinja."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.filter.bottle_endpoints import FilterModule

bottle_endpoints = FilterModule().filters()["bottle_endpoints"]

ALIAS = "127.0.0.16"


def inspect(ports, name="/bot-bottle-sidecars-researcher-m3hxd"):
    """A bundle as `docker inspect` shows it: {"9099/tcp": [(host ip, host port)], ...}."""
    return {"Name": name, "NetworkSettings": {"Ports": {
        key: None if bindings is None else [{"HostIp": ip, "HostPort": port} for ip, port in bindings]
        for key, bindings in ports.items()}}}


RUNNING = inspect({"9099/tcp": [(ALIAS, "49153")], "9418/tcp": [(ALIAS, "49154")], "9100/tcp": [(ALIAS, "49155")]})


def test_a_running_bundle_gives_ports_urls_and_the_whole_guest_environment():
    result = bottle_endpoints(ALIAS, [9099, 9418, 9100], container=RUNNING, proxy_port=9099, no_proxy=["pypi.org"],
                              guest_env={"EDITOR": "vi", "HTTPS_PROXY": "http://stale:1", "GIT_URL": "stale"},
                              guest_url_env={"GIT_URL": {"port": 9418, "scheme": "git"}, "MCP_URL": 9100})

    assert result == {
        "alias": ALIAS,
        "published_ports": ["127.0.0.16::9099", "127.0.0.16::9418", "127.0.0.16::9100"],
        "allowlist": ["127.0.0.16/32"],
        "ports": {9099: 49153, 9418: 49154, 9100: 49155},
        "urls": {9099: "http://127.0.0.16:49153", 9418: "http://127.0.0.16:49154", 9100: "http://127.0.0.16:49155"},
        "env": {
            "EDITOR": "vi",
            "HTTPS_PROXY": "http://127.0.0.16:49153", "HTTP_PROXY": "http://127.0.0.16:49153",
            "https_proxy": "http://127.0.0.16:49153", "http_proxy": "http://127.0.0.16:49153",
            "NO_PROXY": "127.0.0.16,pypi.org", "no_proxy": "127.0.0.16,pypi.org",
            "GIT_URL": "git://127.0.0.16:49154", "MCP_URL": "http://127.0.0.16:49155",
        },
        "predicted": False,
        "confinement_error": None,
    }


def test_without_a_proxy_port_the_guest_gets_no_proxy_variables_but_still_no_proxy():
    result = bottle_endpoints(ALIAS, [9418], container=inspect({"9418/tcp": [(ALIAS, "40000")]}), proxy_port=None)

    assert result["env"] == {"NO_PROXY": ALIAS, "no_proxy": ALIAS}


@pytest.mark.parametrize("ports, proxy_port", [(["9099", "9418"], "9099"), ([9099, 9418], 9099)])
def test_ports_given_as_strings_count_as_numbers(ports, proxy_port):
    container = inspect({"9099/tcp": [(ALIAS, "49153")], "9418/tcp": [(ALIAS, "49154")]})

    result = bottle_endpoints(ALIAS, ports, container=container, proxy_port=proxy_port)

    assert result["ports"] == {9099: 49153, 9418: 49154}
    assert result["env"]["http_proxy"] == "http://127.0.0.16:49153"


@pytest.mark.parametrize("container", [None, {}, inspect({}), {"NetworkSettings": {"Ports": None}}])
def test_a_predicted_bundle_has_host_port_zero_and_nothing_to_prove(container):
    result = bottle_endpoints(ALIAS, [9099, 9418], container=container, predicted=True, proxy_port=9099,
                              guest_url_env={"GIT_URL": {"port": 9418, "scheme": "git"}})

    assert result["ports"] == {9099: 0, 9418: 0}
    assert result["urls"] == {9099: "http://127.0.0.16:0", 9418: "http://127.0.0.16:0"}
    assert result["env"]["HTTPS_PROXY"] == "http://127.0.0.16:0"
    assert result["env"]["GIT_URL"] == "git://127.0.0.16:0"
    assert result["predicted"] is True
    assert result["confinement_error"] is None


def test_the_ports_to_publish_are_known_before_the_bundle_exists():
    result = bottle_endpoints(ALIAS, [9099, 8888], predicted=True)

    assert result["published_ports"] == ["127.0.0.16::9099", "127.0.0.16::8888"]
    assert result["allowlist"] == ["127.0.0.16/32"]


@pytest.mark.parametrize("ports, expected", [
    # A port published on every address is reachable from every other bottle.
    ({"9099/tcp": [("", "49153")]}, "it also publishes on *:49153 (9099/tcp)"),
    ({"9099/tcp": [("0.0.0.0", "49153")]}, "it also publishes on 0.0.0.0:49153 (9099/tcp)"),
    ({"9099/tcp": [(ALIAS, "49153"), ("::", "49153")]}, "it also publishes on :::49153 (9099/tcp)"),
    ({"9099/tcp": [("127.0.0.17", "49153")]}, "it also publishes on 127.0.0.17:49153 (9099/tcp)"),
    # A binding of a port the role did not ask for counts too.
    ({"9099/tcp": [(ALIAS, "49153")], "22/tcp": [("0.0.0.0", "2222")]}, "it also publishes on 0.0.0.0:2222 (22/tcp)"),
    ({"9099/tcp": [(ALIAS, "49153")], "53/udp": [("127.0.0.1", "5353")]}, "127.0.0.1:5353 (53/udp)"),
    ({"9099/tcp": None}, "ports [9099] are not published"),
    ({}, "ports [9099] are not published"),
])
def test_a_binding_off_the_alias_or_a_missing_port_is_not_confined(ports, expected):
    result = bottle_endpoints(ALIAS, [9099], container=inspect(ports), proxy_port=9099)

    assert result["confinement_error"] is not None
    assert expected in result["confinement_error"]
    assert result["confinement_error"].startswith("bot-bottle-sidecars-researcher-m3hxd does not publish ports [9099] "
                                                  "on 127.0.0.16 alone: ")
    assert result["confinement_error"].endswith("remove the container and launch again")


@pytest.mark.parametrize("container", [None, {}, {"NetworkSettings": {}}])
def test_a_bundle_not_read_is_not_proven_unless_predicted(container):
    result = bottle_endpoints(ALIAS, [9099], container=container, proxy_port=9099)

    assert result["confinement_error"] == (
        "the bundle container does not publish ports [9099] on 127.0.0.16 alone: Docker shows no published ports "
        "(null); so the bottle would not be confined to its address; remove the container and launch again")


@pytest.mark.parametrize("kwargs, expected", [
    (dict(ports=[]), "bottle_bundle_ports=[] must list distinct TCP ports from 1 to 65535, at least one (at least one)"),
    (dict(ports="9099"), 'bottle_bundle_ports="9099" must list'),
    (dict(ports=[9099, 0]), "(0 is not one)"),
    (dict(ports=[9099, True]), "(true is not one)"),
    (dict(ports=[9099, 9099]), "(9099 is given twice)"),
    (dict(ports=[9099], proxy_port=9418), "bottle_proxy_port=9418 must be one of bottle_bundle_ports=[9099]"),
    (dict(ports=[9099], guest_url_env={"GIT_URL": 9418}), "bottle_guest_url_env.GIT_URL names port 9418"),
    (dict(ports=[9099], guest_url_env={"GIT_URL": {"scheme": "git"}}), 'bottle_guest_url_env.GIT_URL={"scheme": "git"} needs'),
    (dict(ports=[9099], guest_url_env={"X": {"port": 9099, "scheme": "1x"}}), 'has scheme "1x"'),
    (dict(alias=""), 'alias="" must be the bottle\'s address'),
])
def test_unusable_inputs_fail_naming_the_value(kwargs, expected):
    options = dict(kwargs)
    alias = options.pop("alias", ALIAS)
    ports = options.pop("ports", [9099])

    with pytest.raises(AnsibleFilterError) as caught:
        bottle_endpoints(alias, ports, **options)

    assert str(caught.value).startswith("bottle_endpoints: ")
    assert expected in str(caught.value)
