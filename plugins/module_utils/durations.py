# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations given in seconds: one test of what counts as one, for every timeout and TTL."""

from __future__ import annotations


def is_seconds(value, zero_ok: bool = False, whole: bool = False) -> bool:
    """Whether `value` is a number of seconds: an int or a float (a bool is neither here, though
    Python counts it as an int), above 0, or 0 too with `zero_ok`; an int only with `whole`."""
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return False
    return value >= 0 if zero_ok else value > 0
