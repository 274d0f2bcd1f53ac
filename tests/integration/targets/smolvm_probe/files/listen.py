"""Listen on every HOST:PORT given, accept and close connections until killed; once all are
bound, write this process's pid to READY (so a test waits on the file, not on time)."""

import os
import select
import socket
import sys


def main(ready, *endpoints):
    sockets = []
    for endpoint in endpoints:
        host, port = endpoint.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(16)
        sockets.append(sock)
    with open(ready + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    os.rename(ready + ".tmp", ready)
    while True:
        for sock in select.select(sockets, [], [])[0]:
            conn, _addr = sock.accept()
            conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
