# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Eight launch playbooks started at once, then eight teardowns at once.

Every launch is its own ansible-playbook process, as eight developers (or one script) would run
them, sharing one Docker engine, one smolvm state database, one alias lock and one lease table.
What they produce is read back by means of its own: the bottle fact each launch wrote, Docker's
inspect, the kernel's listening sockets, smolvm's database through sqlite3, and the stand-in's
record of the policy each VM booted with.

smolvm 0.8.0 (the stand-in's default here) drops --allow-cidr on `create --from`, so every launch
patches its allowlist. It also writes as smolvm did before 1.7.5: `create` and `start` read the
row and then write it in one deferred transaction, which is refused at once with "database is
locked" when another command committed in between, having written nothing. Among eight
simultaneous launches on two cores that happens to about one launch in eight. smolvm_machine runs
such a command again (within its db_timeout) once `machine ls --json` shows that nothing was
written, so all eight launches must succeed at once, and all eight bottles must stand, confined.
"""

from __future__ import annotations

from conftest import MACHINE

BOTTLES = 8


def _bindings(ports: dict) -> list:
    return [binding for bound in ports.values() for binding in (bound or [])]


def test_eight_launches_at_once_then_eight_teardowns(lab):
    # smolvm has been used on this machine before: its database exists (the first command to run
    # creates it, and eight first commands at once are not what this test is about).
    assert lab.smolvm("machine", "ls").returncode == 0
    slugs = [lab.slug(f"load{index}") for index in range(BOTTLES)]

    launches = [lab.start("launch", slug) for slug in slugs]
    # No launch is run again: every one of the eight must succeed the first time.
    failed = [run.report() for run in launches if run.wait() != 0]
    assert not failed, "\n\n".join(failed)
    # Each smolvm_machine result says how often it met the lock (lock_retries).
    retries = [sum(event["result"].get("lock_retries", 0) for event in run.results()) for run in launches]
    print(f"smolvm commands run again after smolvm 0.8.0's 'database is locked', per launch: "
          f"{retries} ({sum(1 for n in retries if n)} of {BOTTLES} launches met the lock)")

    facts = {slug: lab.fact(slug) for slug in slugs}
    aliases = [facts[slug]["alias"] for slug in slugs]
    assert len(set(aliases)) == BOTTLES, aliases
    assert set(aliases) <= set(lab.pool), (aliases, lab.pool)

    records = lab.machines()
    assert sorted(records) == sorted(MACHINE.format(slug) for slug in slugs)
    expected = set()
    for slug in slugs:
        fact, alias = facts[slug], facts[slug]["alias"]
        own = [f"{alias}/32"]
        assert fact["allowlist"] == own, fact

        record = records[MACHINE.format(slug)]
        assert record["state"] == "running", record
        assert record["network"] is True and record["allowed_cidrs"] == own, record
        # The guest is pointed at its own bundle and at nothing else.
        env = dict(record["env"])
        assert env["HTTPS_PROXY"] == env["http_proxy"] == f"http://{alias}:{fact['ports']['9099']}"
        assert env["GIT_URL"] == f"git://{alias}:{fact['ports']['9418']}"
        assert env["NO_PROXY"] == alias
        assert not [value for value in env.values() if any(other in value for other in aliases if other != alias)]

        boot = lab.boot(slug)
        assert boot is not None, f"{slug} never started"
        # A loopback-only list gets no DNS rule: the VM booted able to reach its alias alone.
        assert boot["allowed_cidrs"] == own and boot["record_allowed_cidrs"] == own, boot
        assert boot["network"] is True, boot

        container = lab.container(slug)
        assert container.status == "running"
        published = container.attrs["NetworkSettings"]["Ports"]
        requested = container.attrs["HostConfig"]["PortBindings"]
        assert sorted(published) == sorted(requested) == ["9099/tcp", "9418/tcp"], published
        assert {b["HostIp"] for b in _bindings(published)} == {alias}, published
        assert {b["HostIp"] for b in _bindings(requested)} == {alias}, requested
        host_ports = {int(b["HostPort"]) for b in _bindings(published)}
        assert host_ports == {int(fact["ports"]["9099"]), int(fact["ports"]["9418"])}, (published, fact)
        expected |= {(alias, port) for port in host_ports}
        assert lab.network(slug) is not None
        assert lab.lease(slug) is None, lab.leases()

    # The kernel agrees: every (alias, host port) Docker reports listens, nothing listens on
    # those ports on a wildcard address, and whatever listens on a pool alias is one of the
    # bottles' own ports on its own alias. (Host ports repeat across aliases: Docker picks them
    # per address.)
    listening = lab.listening_sockets()
    assert expected <= listening, expected - listening
    ports = {pair[1] for pair in expected}
    stray = {(address, port) for address, port in listening
             if port in ports and address in ("0.0.0.0", "::")
             or address in lab.pool and (address, port) not in expected}
    assert not stray, stray

    # A teardown's smolvm commands write without reading in the same transaction: they wait for
    # the lock instead of failing on it, so all eight must succeed.
    teardowns = [lab.start("teardown", slug) for slug in slugs]
    failed = [run.report() for run in teardowns if run.wait() != 0]
    assert not failed, "\n\n".join(failed)

    assert {slug: lab.left(slug) for slug in slugs} == {slug: [] for slug in slugs}
    assert lab.machines() == {}
    assert lab.leases() == []
