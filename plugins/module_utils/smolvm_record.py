# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One smolvm VM record (the JSON in `vms.data`): parsing it as strictly as smolvm does, and its
egress policy.

Egress fields, as the real CLIs write them (1.7.7, 1.9.1, 1.32.2, every egress flag of `machine
create`; the smolvm_allowlist documentation has the same list):

- owned by this collection (set by the allowlist patch): `allowed_cidrs`, `network`;
- refused when they open anything beyond `allowed_cidrs`: `network_backend: tsi` (smolvm says
  TSI does not enforce an allowlist), an `allow` rule in `egress_rules` (`--allow-udp`), `dns`
  (`--dns`: a resolver the guest may send to), `dns_filter_hosts` (`--allow-host`,
  `--allow-host-pattern`), `block_private` (`--block-private`: the public internet stays open),
  `credential_policy` (`--credential` opens its hosts), `network_name` (`--network`: other VMs),
  `external_interceptor_required` / `mediated_egress_required` (an external interceptor decides);
- reported, never refused (they narrow or only shape the guest link): `deny` rules in
  `egress_rules`, `guest_subnet`, `dns_options`.
"""

from __future__ import annotations

import json

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError

OWNED_FIELDS = ("allowed_cidrs", "network")

# Every other field that bears on where the guest may connect, in the order smolvm writes them.
EGRESS_FIELDS = (
    "network_backend", "block_private", "egress_rules", "dns", "dns_options", "guest_subnet",
    "network_name", "dns_filter_hosts", "credential_policy", "external_interceptor_required",
    "mediated_egress_required",
)

# States in which a VM process may be alive (1.32.2 has all eight; older versions a subset).
LIVE_STATES = frozenset(("running", "paused", "pausing", "unreachable", "frozen"))
KNOWN_STATES = LIVE_STATES | frozenset(("created", "stopped", "failed"))


class RecordParseError(BottleError, ValueError):
    """The bytes are not a record smolvm could read."""


def _reject_constant(name):
    raise RecordParseError(f"{name} is not valid JSON")


def _refuse_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            # serde refuses a duplicated struct field ("duplicate field"), so smolvm cannot read it.
            raise RecordParseError(f"key {key!r} appears twice")
        seen[key] = value
    return seen


def loads_record(raw: bytes):
    """The JSON value of `raw`, refusing what serde_json refuses for a record: NaN/Infinity,
    duplicated keys, bytes that are not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordParseError(f"not UTF-8 ({exc})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_refuse_duplicates)
    except RecordParseError:
        raise
    except ValueError as exc:
        raise RecordParseError(str(exc)) from None


def dumps_record(record) -> bytes:
    # serde_json's compact form: no spaces, UTF-8 as is.
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def owned_policy(record) -> dict:
    """{allowed_cidrs, network} as smolvm reads them (a missing field takes serde's default)."""
    return dict(allowed_cidrs=record.get("allowed_cidrs"), network=record.get("network", False) is True)


def other_egress(record) -> dict:
    """Every egress field beyond the owned ones that the record carries, as stored."""
    return {field: record[field] for field in EGRESS_FIELDS if field in record}


def _credentials(policy):
    if isinstance(policy, dict):
        return policy.get("credentials") or []
    return policy


def widening_fields(record) -> dict:
    """The egress fields that let the guest reach more than `allowed_cidrs`, {field: value}."""
    found = {}
    for field, value in other_egress(record).items():
        if field == "network_backend":
            opens = value not in (None, "virtio-net")
        elif field == "egress_rules":
            value = [rule for rule in (value or []) if not (
                isinstance(rule, dict) and rule.get("action") == "deny")]
            opens = bool(value)
        elif field == "credential_policy":
            opens = bool(_credentials(value))
        elif field in ("guest_subnet", "dns_options"):
            opens = False
        else:
            opens = value not in (None, False, [], {}) or (field == "block_private" and value == [])
        if opens:
            found[field] = value
    return found


def pid_alive(pid) -> bool:
    """Whether process `pid` exists (signal 0 delivers nothing; EPERM still means it exists)."""
    import os  # pylint: disable=import-outside-toplevel
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def is_live(state, pid=None, alive=pid_alive) -> bool:
    """Whether a VM process may be alive: a live state, or `failed` with a pid that still runs."""
    if state in LIVE_STATES:
        return True
    return state == "failed" and alive(pid)
