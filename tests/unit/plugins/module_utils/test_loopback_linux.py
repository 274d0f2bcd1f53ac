# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux method: `ip -j` parsing (odd outputs too), the decisions for a pool outside
127.0.0.0/8 against an in-memory `ip`, the real `ip` inside a private network namespace, and the
local-route check for a pool inside 127.0.0.0/8."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import (
    LoopbackError, subprocess_runner,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback_linux import (
    IpAliases, LinuxLocalRoutes, LocalRouteCheck, linux_loopback, parse_fib_trie,
    parse_ip_addresses, parse_local_routes, pool_inside_loopback_net,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool

IP = "/usr/sbin/ip"


class Span:
    """A pool as the loopback code uses one (first, last, addresses, describe, len), without
    pool.py's validation, which test_pool.py covers."""

    def __init__(self, first, last):
        self.first = ipaddress.IPv4Address(first)
        self.last = ipaddress.IPv4Address(last)

    def addresses(self):
        return [str(ipaddress.IPv4Address(v)) for v in range(int(self.first), int(self.last) + 1)]

    def __len__(self):
        return int(self.last) - int(self.first) + 1

    def describe(self):
        return f"{self.first}-{self.last} ({len(self)} aliases)"


POOL = Span("198.18.0.16", "198.18.0.19")
# The TSI-era pool, named rather than taken from pool.py's defaults.
TSI_POOL = ("127.0.0.16", "127.0.0.31")
POOL_ADDRESSES = [f"198.18.0.{i}" for i in range(16, 20)]

# `ip -j address show dev lo` on Debian 12 (iproute2 6.1), lo up with one pool address.
LO_UP = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,'
    '"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,'
    '"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00",'
    '"addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host",'
    '"label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},'
    '{"family":"inet","local":"198.18.0.17","prefixlen":32,"scope":"global","label":"lo",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295},'
    '{"family":"inet6","local":"::1","prefixlen":128,"scope":"host",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]\n')

# The same in a fresh network namespace: lo down, no address at all.
LO_FRESH_NETNS = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop",'
    '"operstate":"DOWN","group":"default","txqlen":1000,"link_type":"loopback",'
    '"address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]}]\n')


def render_lo(inet, up=True):
    """`ip -j address show dev lo` for (address, prefix length) pairs."""
    flags = ["LOOPBACK", "UP", "LOWER_UP"] if up else ["LOOPBACK"]
    info = [{"family": "inet", "local": a, "prefixlen": n, "scope": "host" if a == "127.0.0.1"
             else "global", "label": "lo"} for a, n in inet]
    info.append({"family": "inet6", "local": "::1", "prefixlen": 128, "scope": "host"})
    return json.dumps([{"ifindex": 1, "ifname": "lo", "flags": flags, "mtu": 65536,
                        "addr_info": info}])


class FakeIp:
    """An in-memory lo that answers what IpAliases runs as iproute2 6.1 does: `ip -j address
    show dev IF` and `ip -4 -batch -`, which stops at the first failing line."""

    def __init__(self, inet=(("127.0.0.1", 8),), up=True, fail_line=None, ignore_changes=False):
        self.inet = [tuple(pair) for pair in inet]
        self.up = up
        self.calls = []
        self.fail_line = fail_line
        self.ignore_changes = ignore_changes

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        if argv[1:5] == ["-j", "address", "show", "dev"]:
            if argv[5] != "lo":
                return 1, "", f'Device "{argv[5]}" does not exist.\n'
            return 0, render_lo(self.inet, self.up), ""
        assert argv[1:] == ["-4", "-batch", "-"], argv
        for number, line in enumerate(data.splitlines(), start=1):
            verb, prefix, dev, interface = line.split()[1:]
            address, length = prefix.split("/")
            pair = (address, int(length))
            assert dev == "dev" and interface == "lo", line
            if number == self.fail_line:
                return 1, "", f"Error: ipv4: Address already assigned.\nCommand failed -:{number}\n"
            if verb == "add" and any(a == address for a, _n in self.inet):
                return 1, "", f"Error: ipv4: Address already assigned.\nCommand failed -:{number}\n"
            if verb == "del" and pair not in self.inet:
                return 1, "", f"Error: ipv4: Address not found.\nCommand failed -:{number}\n"
            if self.ignore_changes:
                continue
            if verb == "add":
                self.inet.append(pair)
            else:
                self.inet.remove(pair)
        return 0, "", ""

    @property
    def batches(self):
        return [data.splitlines() for argv, data in self.calls if data is not None]

    def addresses(self):
        return [a for a, _n in self.inet]


def aliases(fake, pool=POOL, euid=0, **kwargs):
    return IpAliases(pool, ip_path=IP, run=fake, euid=euid, **kwargs)


# -- inside or outside 127.0.0.0/8 --------------------------------------------------------------

@pytest.mark.parametrize("first, last, inside", [
    ("127.0.0.16", "127.0.0.31", True),
    ("127.0.0.1", "127.255.255.254", True),
    ("198.18.0.16", "198.18.0.31", False),
    ("126.255.255.0", "126.255.255.255", False),
    ("128.0.0.0", "128.0.0.9", False),
])
def test_a_pool_lies_inside_or_outside_127_8(first, last, inside):
    assert pool_inside_loopback_net(Span(first, last)) is inside


@pytest.mark.parametrize("first, last", [
    ("126.255.255.250", "127.0.0.5"), ("127.255.255.250", "128.0.0.5"), ("126.0.0.1", "128.0.0.1"),
])
def test_a_pool_across_the_edge_of_127_8_is_refused(first, last):
    with pytest.raises(LoopbackError) as caught:
        linux_loopback(Span(first, last), ip_path=IP, run=FakeIp(), euid=0)
    assert str(caught.value).startswith(f"the pool {first}-{last} lies partly inside 127.0.0.0/8")


def test_linux_picks_the_route_check_inside_and_ip_addresses_outside():
    assert isinstance(linux_loopback(AliasPool(*TSI_POOL), ip_path=IP), LocalRouteCheck)
    assert isinstance(linux_loopback(POOL, ip_path=IP, euid=0), IpAliases)


# -- parsing `ip -j address show dev lo` --------------------------------------------------------

def test_parse_reads_the_ipv4_addresses_and_the_up_flag():
    link = parse_ip_addresses(LO_UP, "lo")
    assert link.up is True
    assert link.inet == [("127.0.0.1", 8), ("198.18.0.17", 32)]
    assert link.addresses() == ["127.0.0.1", "198.18.0.17"]


def test_parse_a_fresh_namespace_lo_as_down_and_empty():
    link = parse_ip_addresses(LO_FRESH_NETNS, "lo")
    assert (link.up, link.inet, link.flags) == (False, [], ["LOOPBACK"])


def test_parse_never_takes_a_near_miss_for_a_pool_address():
    link = parse_ip_addresses(render_lo([("198.18.0.160", 32), ("198.18.0.1", 32)]), "lo")
    assert "198.18.0.16" not in link.addresses()


@pytest.mark.parametrize("output, message", [
    ("", "ip printed no JSON (first line: 'no output')"),
    ('Option "-j" is unknown, try "ip -help".\n', "ip printed no JSON (first line: 'Option"),
    ("1: lo    inet 127.0.0.1/8 scope host lo\n", "busybox ip has no -j"),
    ('{"ifname": "lo"}', "ip printed JSON that is not a list of links"),
    ('["lo"]', "ip printed JSON that is not a list of links"),
    ("[]", "ip showed the links [], not exactly one link named lo"),
    ("[{}]", "ip showed the links [None], not exactly one link named lo"),
    ('[{"ifname": "eth0", "flags": [], "addr_info": []}]', "ip showed the links ['eth0']"),
    ('[{"ifname": "lo", "flags": [], "addr_info": []}, {"ifname": "lo", "flags": [], '
     '"addr_info": []}]', "ip showed the links ['lo', 'lo']"),
    ('[{"ifname": "lo", "flags": ["UP"]}]', "ip showed lo without a list of flags and addr_info"),
    ('[{"ifname": "lo", "addr_info": []}]', "ip showed lo without a list of flags and addr_info"),
    ('[{"ifname": "lo", "flags": [], "addr_info": [{"family": "inet", "local": "198.18.0.300", '
     '"prefixlen": 32}]}]', "ip showed the inet address '198.18.0.300', which is not an IPv4"),
    ('[{"ifname": "lo", "flags": [], "addr_info": [{"family": "inet", "prefixlen": 32}]}]',
     "ip showed the inet address None"),
    ('[{"ifname": "lo", "flags": [], "addr_info": [{"family": "inet", "local": "198.18.0.16", '
     '"prefixlen": 33}]}]', "ip showed 198.18.0.16 with the prefix length 33"),
    ('[{"ifname": "lo", "flags": [], "addr_info": [{"family": "inet", "local": "198.18.0.16", '
     '"prefixlen": "32"}]}]', "ip showed 198.18.0.16 with the prefix length '32'"),
    ('[{"ifname": "lo", "flags": [], "addr_info": [{"family": "inet", "local": "198.18.0.16"}]}]',
     "ip showed 198.18.0.16 with the prefix length None"),
])
def test_output_that_is_not_ip_json_for_one_link_fails_instead_of_reading_as_empty(output, message):
    with pytest.raises(LoopbackError) as caught:
        parse_ip_addresses(output, "lo")
    assert str(caught.value).startswith("cannot read the addresses of lo: ")
    assert message in str(caught.value)


def test_parse_skips_ipv6_and_entries_of_other_families():
    output = ('[{"ifname": "lo", "flags": ["UP"], "addr_info": [{"family": "inet6", '
              '"local": "::ffff:198.18.0.16", "prefixlen": 128}, {"family": "mpls"}, "junk"]}]')
    assert parse_ip_addresses(output, "lo").inet == []


# -- outside 127.0.0.0/8: the decisions ---------------------------------------------------------

def test_missing_addresses_are_added_in_one_batch_and_read_back():
    fake = FakeIp(inet=[("127.0.0.1", 8), ("198.18.0.17", 32)])
    result = aliases(fake).ensure("present").as_dict(diff=True)
    assert result["changed"] is True
    assert result["method"] == "linux" and result["interface"] == "lo"
    assert result["present"] == ["198.18.0.17"]
    assert result["added"] == ["198.18.0.16", "198.18.0.18", "198.18.0.19"]
    assert fake.batches == [[f"address add 198.18.0.{i}/32 dev lo" for i in (16, 18, 19)]]
    assert [argv for argv, _data in fake.calls] == [
        [IP, "-j", "address", "show", "dev", "lo"], [IP, "-4", "-batch", "-"],
        [IP, "-j", "address", "show", "dev", "lo"]]
    assert fake.inet[2:] == [(f"198.18.0.{i}", 32) for i in (16, 18, 19)]
    assert result["diff"] == {"before": {"interface": "lo", "aliases": ["198.18.0.17"]},
                              "after": {"interface": "lo", "aliases": POOL_ADDRESSES}}
    assert result["msg"] == "added 3 aliases to lo: 198.18.0.16, 198.18.0.18-198.18.0.19"


def test_check_mode_predicts_the_same_and_only_reads():
    fake = FakeIp()
    result = aliases(fake).ensure("present", check_mode=True).as_dict(diff=True)
    assert result["changed"] is True and result["added"] == POOL_ADDRESSES
    assert result["diff"]["after"]["aliases"] == POOL_ADDRESSES
    assert result["msg"] == ("would add 4 aliases to lo: 198.18.0.16-198.18.0.19 (check mode, "
                             "nothing changed)")
    assert fake.batches == [] and fake.addresses() == ["127.0.0.1"]


def test_a_second_run_reads_once_and_changes_nothing():
    fake = FakeIp()
    aliases(fake).ensure("present")
    calls = len(fake.calls)
    result = aliases(fake).ensure("present").as_dict(diff=True)
    assert result["changed"] is False and result["present"] == POOL_ADDRESSES
    assert len(fake.calls) == calls + 1
    assert result["msg"] == "the whole pool 198.18.0.16-198.18.0.19 (4 aliases) is on lo already"


def test_absent_removes_only_the_pool_and_leaves_near_misses():
    fake = FakeIp(inet=[("127.0.0.1", 8), ("198.18.0.16", 32), ("198.18.0.160", 32),
                        ("198.18.0.19", 32), ("198.18.0.20", 32)])
    result = aliases(fake).ensure("absent").as_dict(diff=True)
    assert result["changed"] is True and result["removed"] == ["198.18.0.16", "198.18.0.19"]
    assert fake.batches == [["address del 198.18.0.16/32 dev lo", "address del 198.18.0.19/32 dev lo"]]
    assert fake.addresses() == ["127.0.0.1", "198.18.0.160", "198.18.0.20"]
    assert result["diff"]["after"]["aliases"] == []
    again = aliases(fake).ensure("absent")
    assert again.changed is False and "nothing to remove" in again.facts["msg"]


def test_an_address_with_a_wider_prefix_counts_as_present():
    fake = FakeIp(inet=[("127.0.0.1", 8), ("198.18.0.16", 24)])
    result = aliases(fake).ensure("present")
    assert result.facts["present"] == ["198.18.0.16"] and "198.18.0.16" not in result.facts["added"]


def test_absent_refuses_to_remove_an_address_with_a_wider_prefix():
    fake = FakeIp(inet=[("127.0.0.1", 8), ("198.18.0.17", 32), ("198.18.0.18", 24)])
    with pytest.raises(LoopbackError) as caught:
        aliases(fake).ensure("absent", check_mode=True)
    assert str(caught.value) == (
        "lo holds pool addresses with another length than /32 (198.18.0.18/24); this module "
        "adds only /32s, and deleting a wider address can take other addresses with it; remove "
        "them yourself (`ip address del 198.18.0.18/24 dev lo`) and run again")
    assert caught.value.facts["present"] == ["198.18.0.17", "198.18.0.18"]
    assert fake.batches == []


@pytest.mark.parametrize("check_mode", [True, False])
def test_present_on_a_down_lo_fails_closed_even_with_nothing_to_add(check_mode):
    for fake in (FakeIp(inet=[], up=False), FakeIp(inet=[(a, 32) for a in POOL_ADDRESSES], up=False)):
        with pytest.raises(LoopbackError) as caught:
            aliases(fake).ensure("present", check_mode=check_mode)
        assert str(caught.value) == (
            "lo is down (flags LOOPBACK): an address on it does not answer, so the pool cannot "
            "be proven present; bring it up with `ip link set lo up` and run again")
        assert fake.batches == []


def test_absent_on_a_down_lo_still_removes():
    fake = FakeIp(inet=[("198.18.0.16", 32)], up=False)
    assert aliases(fake).ensure("absent").facts["removed"] == ["198.18.0.16"]
    assert fake.inet == []


def test_not_root_fails_and_says_become_before_running_ip():
    fake = FakeIp()
    with pytest.raises(LoopbackError) as caught:
        aliases(fake, euid=1000).ensure("present")
    assert str(caught.value) == (
        "adding 4 aliases (198.18.0.16-198.18.0.19) to lo needs root, and this module runs as "
        "uid 1000; run the task with become: true (the module never calls sudo itself)")
    assert fake.batches == []


def test_not_root_in_check_mode_predicts_and_warns():
    result = aliases(FakeIp(), euid=1000).ensure("present", check_mode=True)
    assert result.changed is True and "become: true" in result.warnings[0]


def test_a_failing_line_names_its_command_and_what_was_done_before_it():
    fake = FakeIp(fail_line=3)
    with pytest.raises(LoopbackError) as caught:
        aliases(fake).ensure("present")
    assert str(caught.value) == (
        f"`{IP} -4 address add 198.18.0.18/32 dev lo` (line 3 of `{IP} -4 -batch -`) failed "
        f"(rc 1): Error: ipv4: Address already assigned.; reading lo back shows 2 aliases added "
        f"(198.18.0.16-198.18.0.17); fix the cause and run again (what was already added stays "
        f"added)")
    assert caught.value.facts == {"changed": True, "present": [],
                                  "added": ["198.18.0.16", "198.18.0.17"], "removed": []}


@pytest.mark.parametrize("err, detail", [
    ("", "`/usr/sbin/ip -4 -batch -` with 4 commands failed (rc 2): no output"),
    ("RTNETLINK answers: Operation not permitted\n",
     "`/usr/sbin/ip -4 -batch -` with 4 commands failed (rc 2): RTNETLINK answers: Operation not "
     "permitted"),
    ("Error: something.\nCommand failed -:9\n",
     "`/usr/sbin/ip -4 -batch -` with 4 commands failed (rc 2): Error: something."),
])
def test_a_failing_batch_without_a_line_it_names_is_reported_whole(err, detail):
    fake = FakeIp()

    def run(argv, data=None):
        if data is not None:
            return 2, "", err
        return fake(argv, data)
    with pytest.raises(LoopbackError) as caught:
        aliases(run).ensure("present")
    assert str(caught.value) == f"{detail}; nothing was added; fix the cause and run again " \
                                f"(what was already added stays added)"
    assert caught.value.facts["changed"] is False


def test_success_that_lo_does_not_show_fails_closed():
    with pytest.raises(LoopbackError) as caught:
        aliases(FakeIp(ignore_changes=True)).ensure("present")
    assert str(caught.value) == ("ip reported success, but reading lo back shows 4 aliases still "
                                 "missing: 198.18.0.16-198.18.0.19; the pool is not in place")


def test_a_read_back_that_fails_says_what_was_attempted():
    fake = FakeIp()
    reads = []

    def run(argv, data=None):
        if data is None:
            reads.append(argv)
            if len(reads) == 2:
                return 0, "Segmentation fault\n", ""
        return fake(argv, data)
    with pytest.raises(LoopbackError) as caught:
        aliases(run).ensure("present")
    assert str(caught.value).startswith("added 4 aliases (198.18.0.16-198.18.0.19), but then "
                                        "cannot read the addresses of lo: ip printed no JSON")
    assert caught.value.facts["changed"] is True


def test_an_unknown_interface_fails_with_ips_words():
    with pytest.raises(LoopbackError) as caught:
        aliases(FakeIp(), interface="lo1").ensure("present")
    assert str(caught.value) == (
        f"cannot read the addresses of lo1: `{IP} -j address show dev lo1` failed (rc 1): "
        f"Device \"lo1\" does not exist.; check the interface option (the loopback is lo on "
        f"Linux)")


def test_no_ip_command_fails_and_says_iproute2():
    with pytest.raises(LoopbackError) as caught:
        IpAliases(POOL, ip_path=None, run=FakeIp(), euid=0)
    assert "no ip command was found" in str(caught.value)
    assert str(caught.value).endswith("install iproute2")


@pytest.mark.parametrize("interface", ["-a", "", "lo; rm", "a" * 16, "lo 0"])
def test_interface_names_that_ip_would_misread_are_refused(interface):
    with pytest.raises(LoopbackError) as caught:
        aliases(FakeIp(), interface=interface)
    assert f"interface={interface!r} is not an interface name" in str(caught.value)


# -- outside 127.0.0.0/8: the real ip, in a network namespace of this test's own -----------------

def _can_make_a_namespace():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    return subprocess.run(["unshare", "--net", "true"], check=False,
                          capture_output=True).returncode == 0


@pytest.fixture
def netns():
    """A private network namespace held by a sleeping process: (run, ip_path, read) where `run`
    runs argv inside it, and `read` lists lo's IPv4 addresses as `ip -4 -o` shows them. It goes
    away with the process, so nothing is left on this machine."""
    if not _can_make_a_namespace():
        pytest.skip("needs root with unshare and nsenter to make a network namespace")
    # The holder says "ready" from inside the new namespace, so it exists once the line is read.
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "echo ready; exec sleep 600"],
                              stdout=subprocess.PIPE, text=True)
    enter = ["nsenter", f"--net=/proc/{holder.pid}/ns/net"]
    ip_path = shutil.which("ip")

    def run(argv, data=None):
        return subprocess_runner(enter + list(argv), data)

    def read():
        rc, out, err = run([ip_path, "-4", "-o", "address", "show", "dev", "lo"])
        assert rc == 0, err
        return [re.search(r"\binet (\S+)", line).group(1) for line in out.splitlines()]
    try:
        assert holder.stdout.readline() == "ready\n"
        assert os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        yield run, ip_path, read
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_the_real_ip_refuses_a_fresh_namespaces_down_lo(netns):
    run, ip_path, read = netns
    with pytest.raises(LoopbackError) as caught:
        IpAliases(POOL, ip_path=ip_path, run=run, euid=0).ensure("present")
    assert str(caught.value).startswith("lo is down (flags LOOPBACK)")
    assert read() == []


def test_the_real_ip_adds_reads_back_and_removes_in_a_namespace(netns):
    run, ip_path, read = netns
    assert run([ip_path, "link", "set", "lo", "up"])[0] == 0
    assert run([ip_path, "address", "add", "198.18.0.160/32", "dev", "lo"])[0] == 0
    before = read()
    assert before == ["127.0.0.1/8", "198.18.0.160/32"]

    check = IpAliases(POOL, ip_path=ip_path, run=run, euid=0).ensure("present", check_mode=True)
    assert check.changed is True and check.facts["added"] == POOL_ADDRESSES and read() == before

    added = IpAliases(POOL, ip_path=ip_path, run=run, euid=0).ensure("present")
    assert added.changed is True and added.facts["added"] == POOL_ADDRESSES
    assert read() == before + [f"{a}/32" for a in POOL_ADDRESSES]

    again = IpAliases(POOL, ip_path=ip_path, run=run, euid=0).ensure("present")
    assert again.changed is False and again.facts["present"] == POOL_ADDRESSES

    removed = IpAliases(POOL, ip_path=ip_path, run=run, euid=0).ensure("absent")
    assert removed.changed is True and removed.facts["removed"] == POOL_ADDRESSES
    assert read() == before
    assert IpAliases(POOL, ip_path=ip_path, run=run, euid=0).ensure("absent").changed is False


def test_the_real_ip_stops_at_an_address_added_behind_the_modules_back(netns):
    run, ip_path, read = netns
    assert run([ip_path, "link", "set", "lo", "up"])[0] == 0
    manager = IpAliases(POOL, ip_path=ip_path, run=run, euid=0)
    real_read = manager.read

    def read_then_race():
        seen = real_read()
        # Another process adds 198.18.0.18 between the module's read and its change.
        if not any(a.startswith("198.18.0.18/") for a in read()):
            assert run([ip_path, "address", "add", "198.18.0.18/32", "dev", "lo"])[0] == 0
        return seen
    manager.read = read_then_race
    with pytest.raises(LoopbackError) as caught:
        manager.ensure("present")
    assert f"`{ip_path} -4 address add 198.18.0.18/32 dev lo` (line 3 of" in str(caught.value)
    assert "Address already assigned" in str(caught.value)
    assert caught.value.facts["added"] == ["198.18.0.16", "198.18.0.17", "198.18.0.18"]
    assert read() == ["127.0.0.1/8", "198.18.0.18/32", "198.18.0.16/32", "198.18.0.17/32"]


# -- inside 127.0.0.0/8: the kernel's local route -----------------------------------------------

IP_LOCAL_TABLE = (
    "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1 \n"
    "local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1 \n"
    "broadcast 127.255.255.255 dev lo proto kernel scope link src 127.0.0.1 \n"
    "local 192.0.2.2 dev eth0 proto kernel scope host src 192.0.2.2 \n"
)

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 4
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 4
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 192.0.2.2
        /32 host LOCAL
"""


def test_parse_local_routes_keeps_local_routes_with_their_device():
    assert parse_local_routes(IP_LOCAL_TABLE) == [
        (ipaddress.IPv4Network("127.0.0.0/8"), "lo"),
        (ipaddress.IPv4Network("127.0.0.1/32"), "lo"),
        (ipaddress.IPv4Network("192.0.2.2/32"), "eth0"),
    ]


def test_parse_fib_trie_reads_the_local_table_only():
    assert parse_fib_trie(FIB_TRIE) == [
        ipaddress.IPv4Network("127.0.0.0/8"), ipaddress.IPv4Network("127.0.0.1/32"),
        ipaddress.IPv4Network("192.0.2.2/32"),
    ]
    main_only = FIB_TRIE.split("Local:", maxsplit=1)[0]
    assert parse_fib_trie(main_only) == []


def linux(run, fib_trie_path="/nonexistent/fib_trie", ip_path=IP, **kwargs):
    manager = linux_loopback(AliasPool(*TSI_POOL), ip_path=ip_path, run=run, euid=1000,
                             fib_trie_path=fib_trie_path, **kwargs)
    assert isinstance(manager, LocalRouteCheck)
    return manager


def ip_says(output, rc=0, err=""):
    calls = []

    def run(argv, data=None):
        calls.append(argv)
        return rc, output, err
    run.calls = calls
    return run


def test_linux_changes_nothing_and_names_the_route():
    run = ip_says(IP_LOCAL_TABLE)
    result = linux(run).ensure("present", check_mode=False).as_dict(diff=True)
    assert run.calls == [[IP, "-4", "route", "show", "table", "local"]]
    assert result["changed"] is False
    assert result["interface"] == "lo" and result["method"] == "linux"
    assert result["added"] == [] and result["removed"] == []
    assert result["present"] == AliasPool(*TSI_POOL).addresses()
    assert result["diff"]["before"] == result["diff"]["after"]
    assert "local route `local 127.0.0.0/8 dev lo`" in result["msg"]
    assert result["msg"].endswith("there are no aliases to add")


def test_linux_absent_removes_nothing_and_says_why():
    result = linux(ip_says(IP_LOCAL_TABLE)).ensure("absent").as_dict()
    assert result["changed"] is False and result["removed"] == []
    assert "cannot be removed one by one" in result["msg"]


def test_linux_route_check_refuses_an_unknown_state():
    with pytest.raises(LoopbackError) as caught:
        linux(ip_says(IP_LOCAL_TABLE)).ensure("gone")
    assert str(caught.value) == "state='gone' is not one of present, absent"


def test_linux_without_the_route_fails_closed():
    with pytest.raises(LoopbackError) as caught:
        linux(ip_says("local 192.0.2.2 dev eth0 proto kernel scope host\n")).ensure("present")
    message = str(caught.value)
    assert message.startswith("cannot verify that the pool 127.0.0.16-127.0.0.31 (16 aliases) "
                              f"reaches lo: `{IP} -4 route show table local` shows no "
                              "local route on lo that covers it (local routes: 192.0.2.2/32 "
                              "dev eth0)")
    assert message.endswith("refusing to report the pool as present; on Linux the kernel "
                            "normally holds `local 127.0.0.0/8 dev lo` in its local table; "
                            "restore it with `ip route add local 127.0.0.0/8 dev lo table local`")


def test_linux_route_on_another_device_does_not_count():
    with pytest.raises(LoopbackError) as caught:
        linux(ip_says("local 127.0.0.0/8 dev dummy0 scope host\n")).ensure("present")
    assert "a local route covers the pool on dummy0, not on lo" in str(caught.value)
    ok = linux(ip_says("local 127.0.0.0/8 dev dummy0 scope host\n"), interface="dummy0")
    assert ok.ensure("present").changed is False


def test_linux_route_that_covers_only_part_of_the_pool_does_not_count():
    with pytest.raises(LoopbackError):
        linux(ip_says("local 127.0.0.16/29 dev lo scope host\n")).ensure("present")


def test_linux_falls_back_to_fib_trie_when_ip_is_missing(tmp_path):
    trie = tmp_path / "fib_trie"
    trie.write_text(FIB_TRIE)
    result = linux(ip_says(""), fib_trie_path=str(trie), ip_path=None).ensure("present")
    assert result.changed is False
    assert f"`local 127.0.0.0/8` (read from {trie})" in result.facts["msg"]


def test_linux_falls_back_to_fib_trie_when_ip_fails(tmp_path):
    trie = tmp_path / "fib_trie"
    trie.write_text(FIB_TRIE)
    result = linux(ip_says("", rc=255, err="RTNETLINK answers: Operation not permitted"),
                   fib_trie_path=str(trie)).ensure("present")
    assert result.changed is False


def test_linux_with_nothing_readable_fails_closed_with_both_reasons():
    with pytest.raises(LoopbackError) as caught:
        linux(ip_says("", rc=255, err="RTNETLINK answers: Operation not permitted\n"),
              fib_trie_path="/nonexistent/fib_trie").ensure("present")
    message = str(caught.value)
    assert f"`{IP} -4 route show table local` failed (rc 255): RTNETLINK answers" in message
    assert "/nonexistent/fib_trie cannot be read (No such file or directory)" in message


def test_linux_absent_without_the_route_is_not_an_error():
    result = linux(ip_says("")).ensure("absent")
    assert result.changed is False and result.facts["present"] == []
    assert "nothing to remove" in result.facts["msg"]


@pytest.mark.skipif(not Path("/proc/net/fib_trie").exists(), reason="needs a Linux kernel")
def test_this_machines_kernel_covers_the_default_pool():
    routes = LinuxLocalRoutes(None).read()
    assert ipaddress.IPv4Network("127.0.0.0/8") in [n for n, _d in routes[1]]
