#!/usr/bin/env python3
# tunnelgw: test tool for PROXY protocol scenarios.
#   ppcapture.py serve PORTFILE DIR   service: saves what each connection sends first
#                                     (up to 600 bytes or 0.5 s) to DIR/N, answers "ok\n"
#   ppcapture.py get PORT SRCIP       public client: connects from SRCIP, sends a request,
#                                     prints "SRCIP:SRCPORT" then the reply
import itertools
import os
import socket
import sys

import tg


def serve(portfile, outdir):
    paths, numbers = {}, itertools.count(1)

    def number(c):
        """In the accept loop: the connections are numbered in the order they came."""
        paths[c] = os.path.join(outdir, str(next(numbers)))

    tg.serve(portfile, lambda c: handle(c, paths.pop(c)), number)


def handle(c, path):
    c.settimeout(0.5)
    data = b""
    try:
        while len(data) < 600:
            d = c.recv(600 - len(data))
            if not d:
                break
            data += d
    except socket.timeout:
        pass
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)
    try:
        c.sendall(b"ok\n")
    except OSError:
        pass
    c.close()


def get(port, srcip):
    c = tg.connect(port, srcip, 10)
    print("%s:%d" % c.getsockname())
    c.sendall(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
    reply = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        reply += d
    sys.stdout.write(reply.decode("latin-1"))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "get":
        get(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("unknown command")
