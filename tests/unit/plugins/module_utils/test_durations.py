# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds


@pytest.mark.parametrize("value, zero_ok, whole, expected", [
    (1, False, False, True),
    (0.5, False, False, True),
    (0, False, False, False),
    (0, True, False, True),
    (-1, True, False, False),
    (0.5, False, True, False),
    (900, False, True, True),
    (True, False, False, False),
    (False, True, False, False),
    (None, True, False, False),
    ("30", False, False, False),
])
def test_what_counts_as_a_number_of_seconds(value, zero_ok, whole, expected):
    assert is_seconds(value, zero_ok=zero_ok, whole=whole) is expected
