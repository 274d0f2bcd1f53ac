"""Run the real smolvm; when a create or delete is refused on the locked database, or is seen
inside SQLite's busy wait for it, create the file RELEASE so that hold_lock.py lets go. The
module's retry (or smolvm's own wait) then meets a lock that went away, with no timing involved.

    release_on_lock.py REAL_SMOLVM DB RELEASE ARGS...
"""
import os
import subprocess
import sys
import threading
import time

real, db, release, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if not any(word in args for word in ("create", "delete")):
    os.execv(real, [real] + args)

# nanosleep and clock_nanosleep on x86_64: SQLite's busy handler sleeps in one of them.
BUSY_WAIT_SYSCALLS = ("35", "230")


def let_go():
    with open(release, "a", encoding="utf-8"):
        pass


def in_busy_wait(pid):
    """True once smolvm has the database open and a thread of it sleeps in a busy wait."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == db for fd in fds):
            return False
        return any(syscall(pid, task) in BUSY_WAIT_SYSCALLS for task in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False


def syscall(pid, task):
    with open(f"/proc/{pid}/task/{task}/syscall", encoding="ascii") as numbers:
        return (numbers.read().split() or [""])[0]


child = subprocess.Popen([real] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def watch():
    while child.poll() is None:
        if in_busy_wait(child.pid):
            let_go()
            return
        time.sleep(0.02)


watcher = threading.Thread(target=watch, daemon=True)
watcher.start()
out, err = child.communicate()
if "database is locked" in err:
    let_go()
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(child.returncode)
