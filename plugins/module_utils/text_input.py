# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One check for every free-text input (slugs, prefixes, paths, addresses): no control characters,
no surrounding whitespace; refused, never stripped, since a stripped value may name something else.
"""

from __future__ import annotations

import unicodedata

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError


class TextInputError(BottleError, ValueError):
    """A value holds a control character or surrounding whitespace; the message names it (repr)."""


def check_plain_text(option: str, value) -> None:
    """Raise TextInputError when the string `value` of `option` cannot be taken literally."""
    if not isinstance(value, str):
        return
    bad = [c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if bad:
        raise TextInputError(
            f"{option}={value!r} holds the control character {bad[0]!r}; a YAML folded scalar (>) "
            f"adds a trailing newline: use a plain or quoted scalar, or the | - (strip) form")
    if value != value.strip():
        raise TextInputError(
            f"{option}={value!r} starts or ends with whitespace; remove it (it is never stripped, "
            f"because the value would then name something else than what was written)")
