# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ifconfig method (macOS and the BSDs): parsing, decisions, and the stand-in round trip."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils import loopback
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import LoopbackError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback_bsd import (
    IfconfigAliases, parse_ifconfig,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool

STANDIN = Path(__file__).resolve().parents[3] / "standins" / "ifconfig"

# `ifconfig lo0` on macOS after `ifconfig lo0 alias 127.0.0.16/32 up` and an alias added without
# a length: tabs, a trailing space after every address line, aliases after the inet6 lines.
MACOS_LO0 = (
    "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n"
    "\toptions=1203<RXCSUM,TXCSUM,TXSTATUS,SW_TIMESTAMP>\n"
    "\tinet 127.0.0.1 netmask 0xff000000 \n"
    "\tinet6 ::1 prefixlen 128 \n"
    "\tinet6 fe80::1%lo0 prefixlen 64 scopeid 0x1 \n"
    "\tinet 127.0.0.16 netmask 0xffffffff \n"
    "\tinet 127.0.0.2 netmask 0xff000000 \n"
    "\tnd6 options=201<PERFORMNUD,DAD>\n"
)


def render_lo0(addresses, boot="127.0.0.1"):
    """lo0 as macOS prints it: `boot` first, the inet6 lines, then `addresses` as /32 aliases."""
    header = MACOS_LO0.splitlines()
    lines = header[:2] + [f"\tinet {boot} netmask 0xff000000 "] + header[3:5]
    lines += [f"\tinet {a} netmask 0xffffffff " for a in addresses]
    lines.append("\tnd6 options=201<PERFORMNUD,DAD>")
    return "\n".join(lines) + "\n"


class FakeIfconfig:
    """An in-memory lo0 that answers the argv the manager runs, and records every call."""

    def __init__(self, addresses=("127.0.0.1",), fail_on=None, ignore_changes=False):
        self.addresses = list(addresses)
        self.calls = []
        self.fail_on = fail_on
        self.ignore_changes = ignore_changes

    def __call__(self, argv):
        self.calls.append(list(argv))
        _path, interface, *args = argv
        if interface != "lo0":
            return 1, "", f"ifconfig: interface {interface} does not exist\n"
        if not args:
            return 0, render_lo0([a for a in self.addresses if a != "127.0.0.1"]), ""
        address = args[1].split("/")[0]
        if address == self.fail_on:
            return 1, "", "ifconfig: ioctl (SIOCAIFADDR): File exists\n"
        if self.ignore_changes:
            return 0, "", ""
        if args[0] == "alias":
            self.addresses.append(address)
        else:
            self.addresses.remove(address)
        return 0, "", ""

    @property
    def changes(self):
        return [c for c in self.calls if len(c) > 2]


def manager(fake, first="127.0.0.16", last="127.0.0.19", euid=0, **kwargs):
    return IfconfigAliases(AliasPool(first, last), ifconfig_path="/sbin/ifconfig", run=fake,
                           euid=euid, **kwargs)


# -- parsing ifconfig ---------------------------------------------------------------------------

def test_parse_macos_lo0_reads_inet_lines_only_in_order():
    assert parse_ifconfig(MACOS_LO0, "lo0") == ["127.0.0.1", "127.0.0.16", "127.0.0.2"]


@pytest.mark.parametrize("present, absent", [
    ("127.0.0.1", ["127.0.0.16", "127.0.0.160", "127.0.0.10"]),
    ("127.0.0.16", ["127.0.0.1", "127.0.0.160", "127.0.0.161"]),
    ("127.0.0.160", ["127.0.0.16", "127.0.0.1", "127.0.0.60"]),
    ("127.0.0.31", ["127.0.0.3", "127.0.0.131"]),
])
def test_near_miss_addresses_never_match(present, absent):
    found = parse_ifconfig(render_lo0([], boot=present), "lo0")
    assert found == [present]
    assert not set(found) & set(absent)


def test_near_misses_on_the_interface_do_not_make_pool_aliases_present():
    fake = FakeIfconfig(["127.0.0.1", "127.0.0.160", "127.0.0.161", "127.0.0.17", "127.0.0.190"])
    result = manager(fake).ensure("present", check_mode=True).as_dict()
    assert result["present"] == ["127.0.0.17"]
    assert result["added"] == ["127.0.0.16", "127.0.0.18", "127.0.0.19"]


def test_inet6_lines_that_embed_ipv4_text_are_not_addresses():
    output = render_lo0([]).replace(
        "\tnd6", "\tinet6 ::ffff:127.0.0.16 prefixlen 128 \n\tinet6 fe80::1%lo0 prefixlen 64 \n\tnd6")
    assert parse_ifconfig(output, "lo0") == ["127.0.0.1"]


def test_only_the_named_interface_block_is_read():
    output = MACOS_LO0 + (
        "en0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
        "\tinet 127.0.0.17 netmask 0xffffff00 broadcast 192.168.1.255\n")
    assert "127.0.0.17" not in parse_ifconfig(output, "lo0")
    assert parse_ifconfig(output, "en0") == ["127.0.0.17"]


def test_freebsd_cidr_form_is_read():
    output = ("lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n"
              "\tinet 127.0.0.1/8\n\tinet 127.0.0.16/32\n")
    assert parse_ifconfig(output, "lo0") == ["127.0.0.1", "127.0.0.16"]


@pytest.mark.parametrize("output, message", [
    ("", "printed no 'lo0: flags=...' block"),
    ("lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\n        inet 127.0.0.1  netmask 255.0.0.0\n",
     "printed no 'lo0: flags=...' block (first line: 'lo: flags=73"),
    ("lo0: flags=8049<UP> mtu 16384\n\tinet addr:127.0.0.1  Mask:255.0.0.0\n",
     "does not hold an IPv4 address"),
])
def test_output_that_is_not_bsd_ifconfig_fails_instead_of_reading_as_empty(output, message):
    with pytest.raises(LoopbackError) as caught:
        parse_ifconfig(output, "lo0")
    assert message in str(caught.value)


@given(st.sets(st.integers(min_value=int(ipaddress.IPv4Address("127.0.0.2")),
                           max_value=int(ipaddress.IPv4Address("127.0.3.255"))), max_size=40))
def test_parse_returns_exactly_the_aliases_shown(values):
    aliases = [str(ipaddress.IPv4Address(v)) for v in sorted(values)]
    assert parse_ifconfig(render_lo0(aliases), "lo0") == ["127.0.0.1"] + aliases


# -- interface names -----------------------------------------------------------------------------

@pytest.mark.parametrize("interface", ["-a", "", "lo0; rm", "a" * 16, "lo 0"])
def test_interface_names_that_ifconfig_would_misread_are_refused(interface):
    with pytest.raises(LoopbackError) as caught:
        manager(FakeIfconfig(), interface=interface)
    assert f"interface={interface!r} is not an interface name" in str(caught.value)


# -- the ifconfig method ------------------------------------------------------------------------

def test_missing_aliases_are_added_as_32s_and_read_back():
    fake = FakeIfconfig(["127.0.0.1", "127.0.0.17"])
    result = manager(fake).ensure("present").as_dict(diff=True)
    assert result["changed"] is True
    assert result["present"] == ["127.0.0.17"]
    assert result["added"] == ["127.0.0.16", "127.0.0.18", "127.0.0.19"]
    assert result["removed"] == []
    assert fake.changes == [["/sbin/ifconfig", "lo0", "alias", f"127.0.0.{i}/32", "up"]
                            for i in (16, 18, 19)]
    assert result["diff"] == {
        "before": {"interface": "lo0", "aliases": ["127.0.0.17"]},
        "after": {"interface": "lo0", "aliases": [f"127.0.0.{i}" for i in range(16, 20)]},
    }
    assert result["msg"] == "added 3 aliases to lo0: 127.0.0.16, 127.0.0.18-127.0.0.19"
    assert result["pool"] == {"first": "127.0.0.16", "last": "127.0.0.19", "size": 4}
    assert fake.calls[-1] == ["/sbin/ifconfig", "lo0"], "the interface is read back"


def test_a_second_run_changes_nothing():
    fake = FakeIfconfig()
    manager(fake).ensure("present")
    calls = len(fake.calls)
    result = manager(fake).ensure("present").as_dict(diff=True)
    assert result["changed"] is False
    assert fake.calls[calls:] == [["/sbin/ifconfig", "lo0"]], "one read, no change"
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["msg"] == "the whole pool 127.0.0.16-127.0.0.19 (4 aliases) is on lo0 already"


def test_check_mode_reports_the_same_change_and_runs_nothing_but_the_read():
    fake = FakeIfconfig()
    result = manager(fake).ensure("present", check_mode=True).as_dict(diff=True)
    assert result["changed"] is True
    assert result["added"] == [f"127.0.0.{i}" for i in range(16, 20)]
    assert fake.calls == [["/sbin/ifconfig", "lo0"]]
    assert fake.addresses == ["127.0.0.1"]
    assert result["diff"]["after"]["aliases"] == result["added"]
    assert result["msg"].startswith("would add 4 aliases to lo0: 127.0.0.16-127.0.0.19")


def test_absent_removes_only_pool_aliases():
    fake = FakeIfconfig(["127.0.0.1", "127.0.0.2", "127.0.0.16", "127.0.0.18", "127.0.0.160"])
    result = manager(fake).ensure("absent").as_dict(diff=True)
    assert result["changed"] is True
    assert result["removed"] == ["127.0.0.16", "127.0.0.18"]
    assert fake.changes == [["/sbin/ifconfig", "lo0", "-alias", "127.0.0.16"],
                            ["/sbin/ifconfig", "lo0", "-alias", "127.0.0.18"]]
    assert fake.addresses == ["127.0.0.1", "127.0.0.2", "127.0.0.160"]
    assert result["diff"]["after"]["aliases"] == []
    again = manager(fake).ensure("absent").as_dict()
    assert again["changed"] is False and "nothing to remove" in again["msg"]


def test_reserved_addresses_inside_a_wide_pool_are_neither_added_nor_removed():
    fake = FakeIfconfig(["127.0.0.1", "127.0.0.53"])
    result = manager(fake, first="127.0.0.50", last="127.0.0.56").ensure("present").as_dict()
    assert result["added"] == ["127.0.0.50", "127.0.0.51", "127.0.0.52", "127.0.0.55",
                               "127.0.0.56"]
    removed = manager(fake, first="127.0.0.50", last="127.0.0.56").ensure("absent").as_dict()
    assert "127.0.0.53" not in removed["removed"]
    assert "127.0.0.53" in fake.addresses and "127.0.0.1" in fake.addresses


def test_not_root_with_something_to_change_fails_and_says_become():
    fake = FakeIfconfig()
    with pytest.raises(LoopbackError) as caught:
        manager(fake, euid=501).ensure("present")
    assert str(caught.value) == (
        "adding 4 aliases (127.0.0.16-127.0.0.19) to lo0 needs root, and this module runs as "
        "uid 501; run the task with become: true (the module never calls sudo itself)")
    assert caught.value.facts == {"present": [], "added": [], "removed": []}
    assert fake.changes == []


def test_not_root_removing_names_the_removal():
    fake = FakeIfconfig(["127.0.0.1", "127.0.0.17"])
    with pytest.raises(LoopbackError) as caught:
        manager(fake, euid=501).ensure("absent")
    assert str(caught.value).startswith("removing 1 alias (127.0.0.17) from lo0 needs root")


def test_not_root_in_check_mode_reports_and_warns():
    fake = FakeIfconfig()
    result = manager(fake, euid=501).ensure("present", check_mode=True)
    assert result.changed is True
    assert result.warnings and "become: true" in result.warnings[0]


def test_not_root_with_nothing_to_change_is_fine():
    fake = FakeIfconfig(["127.0.0.1"] + [f"127.0.0.{i}" for i in range(16, 20)])
    result = manager(fake, euid=501).ensure("present")
    assert result.changed is False and result.warnings == []


def test_a_failing_ifconfig_stops_and_reports_what_was_already_added():
    fake = FakeIfconfig(fail_on="127.0.0.18")
    with pytest.raises(LoopbackError) as caught:
        manager(fake).ensure("present")
    assert str(caught.value) == (
        "`/sbin/ifconfig lo0 alias 127.0.0.18/32 up` failed (rc 1): ifconfig: ioctl "
        "(SIOCAIFADDR): File exists; reading lo0 back shows 2 aliases added "
        "(127.0.0.16-127.0.0.17); fix the cause and run again (what was already added stays "
        "added)")
    assert fake.changes[-1][3] == "127.0.0.18/32", "nothing runs after the failing command"
    assert caught.value.facts["added"] == ["127.0.0.16", "127.0.0.17"]
    assert caught.value.facts["changed"] is True


def test_success_that_the_interface_does_not_show_fails_closed():
    fake = FakeIfconfig(ignore_changes=True)
    with pytest.raises(LoopbackError) as caught:
        manager(fake).ensure("present")
    assert "reading lo0 back shows 4 aliases still missing: 127.0.0.16-127.0.0.19" in (
        str(caught.value))


def test_a_read_back_that_fails_after_changes_says_what_was_changed():
    fake = FakeIfconfig()
    reads = []

    def run(argv):
        if len(argv) == 2:
            reads.append(argv)
            if len(reads) == 2:
                return 1, "", "ifconfig: interface lo0 does not exist\n"
        return fake(argv)
    with pytest.raises(LoopbackError) as caught:
        manager(run).ensure("present")
    assert str(caught.value).startswith("added 4 aliases (127.0.0.16-127.0.0.19), but then "
                                        "cannot read the addresses of lo0")
    assert caught.value.facts["changed"] is True
    assert caught.value.facts["added"] == [f"127.0.0.{i}" for i in range(16, 20)]


def test_an_unknown_interface_fails_with_ifconfigs_words():
    with pytest.raises(LoopbackError) as caught:
        manager(FakeIfconfig(), interface="lo1").ensure("present")
    assert str(caught.value).startswith(
        "cannot read the addresses of lo1: `/sbin/ifconfig lo1` failed (rc 1): "
        "ifconfig: interface lo1 does not exist")


def test_no_ifconfig_found_says_to_set_the_path():
    with pytest.raises(LoopbackError) as caught:
        IfconfigAliases(AliasPool(), ifconfig_path=None, run=FakeIfconfig(), euid=0)
    assert "set ifconfig_path" in str(caught.value)


# -- the stand-in, through the same code path the module uses -----------------------------------

@pytest.fixture
def standin(tmp_path, monkeypatch):
    monkeypatch.setenv("IFCONFIG_STANDIN_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("IFCONFIG_STANDIN_ALLOW_NONROOT", "1")
    return tmp_path / "state.json"


def test_the_standin_round_trip(standin):
    pool = IfconfigAliases(AliasPool("127.0.0.16", "127.0.0.17"), ifconfig_path=str(STANDIN),
                           euid=0)
    assert pool.ensure("present").facts["added"] == ["127.0.0.16", "127.0.0.17"]
    state = json.loads(standin.read_text())["interfaces"]["lo0"]["addresses"]
    assert [(a["address"], a.get("netmask")) for a in state if a["family"] == "inet"] == [
        ("127.0.0.1", "0xff000000"), ("127.0.0.16", "0xffffffff"), ("127.0.0.17", "0xffffffff")]
    assert pool.ensure("present").changed is False
    assert pool.ensure("absent").facts["removed"] == ["127.0.0.16", "127.0.0.17"]
    assert pool.read() == ["127.0.0.1"]


def test_the_standin_prints_macos_format(standin):
    loopback.subprocess_runner([str(STANDIN), "lo0", "alias", "127.0.0.16/32", "up"])
    loopback.subprocess_runner([str(STANDIN), "lo0", "alias", "127.0.0.2", "up"])
    rc, out, _err = loopback.subprocess_runner([str(STANDIN), "lo0"])
    assert rc == 0 and out == MACOS_LO0


@pytest.mark.parametrize("argv, message", [
    (["lo1"], "ifconfig: interface lo1 does not exist\n"),
    (["lo0", "-alias", "127.0.0.16"],
     "ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address\n"),
    (["lo0", "alias", "127.0.0.300/32", "up"], "ifconfig: 127.0.0.300: bad value\n"),
    (["lo0", "alias", "127.0.0.3/33", "up"], "ifconfig: 127.0.0.3/33: bad value\n"),
])
def test_the_standin_fails_like_macos(standin, argv, message):
    rc, _out, err = loopback.subprocess_runner([str(STANDIN)] + argv)
    assert (rc, err) == (1, message)


def test_the_standin_refuses_changes_when_not_root(standin, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root may always change the stand-in")
    monkeypatch.delenv("IFCONFIG_STANDIN_ALLOW_NONROOT")
    rc, _out, err = loopback.subprocess_runner([str(STANDIN), "lo0", "alias", "127.0.0.16/32"])
    assert (rc, err) == (1, "ifconfig: ioctl (SIOCAIFADDR): permission denied\n")
