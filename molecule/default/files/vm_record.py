# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print one VM's row of smolvm's state database as JSON: {"storage": ..., "record": ...}.

A test helper for the Molecule scenario: it reads the database independently of the collection's
modules, read-only, so the verify step does not take the role's word for the allowlist.
"""
import json
import sqlite3
import sys


def main():
    db_path, name = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT data, typeof(data) FROM vms WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    if row is None:
        print(json.dumps({"storage": None, "record": None}))
        return
    print(json.dumps({"storage": row[1], "record": json.loads(bytes(row[0]))}))


if __name__ == "__main__":
    main()
