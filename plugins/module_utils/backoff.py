# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The waits between attempts, shared by the lock retry and the readiness wait."""

from __future__ import annotations


class Backoff:
    """The waits between a command's attempts: `first` seconds, doubling up to `most`, each scaled
    by `spread()`, and never past the deadline that start() sets."""

    def __init__(self, sleep, clock, first, most, spread=lambda: 1.0):
        self._sleep = sleep
        self._clock = clock
        self._delay = first
        self._most = most
        self._spread = spread
        self._deadline = None

    def start(self, timeout):
        """Sets the deadline `timeout` seconds from now, at the first call only."""
        if self._deadline is None:
            self._deadline = self._clock() + timeout

    def remaining(self):
        return self._deadline - self._clock()

    def wait(self):
        self._sleep(min(self._delay * self._spread(), self.remaining()))
        self._delay = min(self._delay * 2, self._most)
