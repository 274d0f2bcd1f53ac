"""Hold smolvm's database write lock the way another smolvm command would (BEGIN IMMEDIATE), until
the file RELEASE appears; write READY once the lock is held.

    hold_lock.py DB READY RELEASE
"""
import os
import sqlite3
import sys
import time

db, ready, release = sys.argv[1:4]
connection = sqlite3.connect(db, isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
with open(ready, "w", encoding="utf-8") as marker:
    marker.write(str(os.getpid()))
deadline = time.monotonic() + 300  # never outlive a broken test for long
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.02)
connection.execute("ROLLBACK")
connection.close()
