# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-made .smolmachine (tests/standins/smolmachine_pack.py): read back, and refused when
it is not a pack (the real CLI accepting it is tests/conformance's business)."""

from __future__ import annotations

import pytest

import smolmachine_pack


def test_a_pack_reads_back_its_manifest(tmp_path):
    path = tmp_path / "app.smolmachine"
    made = smolmachine_pack.make_pack(path, image="python:3.12-alpine", cmd=["python3"],
                                      env=["A=1"], workdir="/app", cpus=2, mem=1024)

    assert smolmachine_pack.read_pack(path) == made
    assert path.read_bytes()[-64:][:8] == b"SMOLPACK"


@pytest.mark.parametrize("damage, words", [
    (lambda data: data[:10], "too small"),
    (lambda data: data[:-64] + b"BADMAGIC" + data[-56:], "magic"),
    (lambda data: bytes([data[0] ^ 0xFF]) + data[1:], "checksum"),
])
def test_what_is_not_a_pack_is_refused(tmp_path, damage, words):
    path = tmp_path / "app.smolmachine"
    smolmachine_pack.make_pack(path)
    path.write_bytes(damage(path.read_bytes()))

    with pytest.raises(smolmachine_pack.PackError) as caught:
        smolmachine_pack.read_pack(path)

    assert words in str(caught.value)
