# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import (
    CidrError, normalize_cidr, normalize_cidrs, same_allowlist,
)


@pytest.mark.parametrize("value, expected", [
    ("127.0.0.16", "127.0.0.16/32"),
    ("127.0.0.16/32", "127.0.0.16/32"),
    ("  10.0.0.0/8 ", "10.0.0.0/8"),
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("192.168.1.0/24", "192.168.1.0/24"),
    ("::1", "::1/128"),
    ("2001:DB8::", "2001:db8::/128"),
    ("2001:0db8:0000::/32", "2001:db8::/32"),
    ("::/0", "::/0"),
    # Python 3.13 prints IPv4-mapped addresses differently; the form follows the interpreter.
    ("::ffff:127.0.0.16", f"{ipaddress.ip_address('::ffff:127.0.0.16')}/128"),
])
def test_normalises_addresses_and_networks(value, expected):
    assert normalize_cidr(value) == expected


@pytest.mark.parametrize("value, message", [
    ("10.0.0.1/8", "'10.0.0.1/8' has host bits set; write 10.0.0.0/8 for the whole network "
                   "or 10.0.0.1/32 for the single host"),
    ("2001:db8::1/32", "'2001:db8::1/32' has host bits set; write 2001:db8::/32"),
    ("127.0.0.256", "'127.0.0.256' is not an IP address or CIDR"),
    ("example.com", "'example.com' is not an IP address or CIDR"),
    ("10.0.0.0/33", "'10.0.0.0/33' is not a valid CIDR"),
    ("10.0.0.0/", "'10.0.0.0/' is not a valid CIDR"),
    ("/8", "'/8' is not a valid CIDR"),
    ("fe80::1%eth0", "'fe80::1%eth0' carries an IPv6 zone"),
    ("", "allowed_cidrs has an empty entry"),
    ("   ", "allowed_cidrs has an empty entry"),
    (8, "allowed_cidrs entry 8 is a int, not a string"),
    (None, "allowed_cidrs entry None is a NoneType, not a string"),
])
def test_rejects_with_the_value_named(value, message):
    with pytest.raises(CidrError) as caught:
        normalize_cidr(value)
    assert message in str(caught.value)


def test_list_keeps_order_and_drops_duplicates():
    assert normalize_cidrs(["10.0.0.0/8", "127.0.0.16", "10.0.0.0/8", "127.0.0.16/32"]) == [
        "10.0.0.0/8", "127.0.0.16/32"]


def test_empty_list_is_deny_all_and_stays_empty():
    assert normalize_cidrs([]) == []


@pytest.mark.parametrize("values", ["127.0.0.16", None, b"127.0.0.16"])
def test_list_must_be_a_list(values):
    with pytest.raises(CidrError) as caught:
        normalize_cidrs(values)
    assert "allowed_cidrs must be a list of CIDRs" in str(caught.value)


def test_list_fails_on_the_first_bad_entry():
    with pytest.raises(CidrError) as caught:
        normalize_cidrs(["127.0.0.16", "nope", "10.0.0.1/8"])
    assert "'nope'" in str(caught.value)


@pytest.mark.parametrize("current, wanted, same", [
    (None, None, True),
    (None, [], False),
    ([], None, False),
    ([], [], True),
    (None, ["127.0.0.16/32"], False),
    (["127.0.0.16/32"], ["127.0.0.16/32"], True),
    (["127.0.0.16"], ["127.0.0.16/32"], True),
    (["10.0.0.0/8", "127.0.0.16/32"], ["127.0.0.16/32", "10.0.0.0/8"], True),
    (["127.0.0.16/32", "127.0.0.16/32"], ["127.0.0.16/32"], True),
    (["127.0.0.16/32"], ["127.0.0.17/32"], False),
    (["127.0.0.16/32", "1.1.1.1/32"], ["127.0.0.16/32"], False),
    (["not a cidr"], ["127.0.0.16/32"], False),
    ("127.0.0.16/32", ["127.0.0.16/32"], False),
    ([16], ["127.0.0.16/32"], False),
])
def test_same_allowlist_compares_sets_of_networks(current, wanted, same):
    assert same_allowlist(current, wanted) is same


ipv4_networks = st.builds(
    lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
    st.integers(0, 2 ** 32 - 1), st.integers(0, 32))
ipv6_networks = st.builds(
    lambda address, prefix: ipaddress.IPv6Network((address, prefix), strict=False),
    st.integers(0, 2 ** 128 - 1), st.integers(0, 128))
networks = st.one_of(ipv4_networks, ipv6_networks)
addresses = st.one_of(st.integers(0, 2 ** 32 - 1).map(ipaddress.IPv4Address),
                      st.integers(0, 2 ** 128 - 1).map(ipaddress.IPv6Address))


@given(networks)
def test_property_a_network_normalises_to_itself_and_is_stable(network):
    normal = normalize_cidr(str(network))
    assert ipaddress.ip_network(normal) == network
    assert normalize_cidr(normal) == normal


@given(networks)
def test_property_exploded_and_upper_case_forms_agree(network):
    assert normalize_cidr(network.exploded.upper()) == normalize_cidr(str(network))


@given(addresses)
def test_property_a_bare_address_becomes_a_host_route(address):
    normal = normalize_cidr(str(address))
    assert normal.endswith(f"/{address.max_prefixlen}")
    assert ipaddress.ip_network(normal).num_addresses == 1
    assert ipaddress.ip_network(normal).network_address == address


@given(addresses, st.data())
def test_property_host_bits_are_always_refused(address, data):
    prefix = data.draw(st.integers(0, address.max_prefixlen - 1))
    network = ipaddress.ip_network((address, prefix), strict=False)
    if network.network_address == address:
        return
    with pytest.raises(CidrError) as caught:
        normalize_cidr(f"{address}/{prefix}")
    assert "host bits set" in str(caught.value)
    assert f"{address}/{prefix}" in str(caught.value)


@given(st.lists(networks, max_size=8), st.randoms())
def test_property_normalised_lists_compare_equal_in_any_order(nets, rnd):
    wanted = normalize_cidrs([str(n) for n in nets])
    shuffled = list(wanted) + list(wanted[:2])
    rnd.shuffle(shuffled)
    assert same_allowlist(shuffled, wanted)
    assert len(wanted) == len(set(nets))


@given(st.text(max_size=30))
def test_property_any_text_is_either_a_cidr_or_a_cidr_error(text):
    try:
        normal = normalize_cidr(text)
    except CidrError as exc:
        assert str(exc)
    else:
        assert ipaddress.ip_network(normal)
