# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error base of the collection, and the one way a module reports it."""

from __future__ import annotations


class BottleError(Exception):
    """A failure the user can act on: the message says what and what to do; `facts` are the
    extra keys the module returns next to `msg` (smolvm's rc and stderr, the address holders...)."""

    def __init__(self, message, **facts):
        super().__init__(message)
        self.facts = facts


def fail_with(module, error: BottleError, **known) -> None:
    """fail_json with the error's message and facts; `known` are what the module knows whatever
    failed (changed, db_path...), and give way to the error's own facts of the same name."""
    module.fail_json(msg=str(error), **dict(known, **error.facts))
