#!/usr/bin/env python3
# tunnelgw: floods for tests/abuse.sh, from many source addresses at once.
#   flood.py hold PORT N SECONDS SRC...
#       opens N connections to PORT, spread in turn over the source addresses SRC (IPv4
#       sources connect to 127.0.0.1, IPv6 ones to ::1), sends nothing, and after a second
#       sorts them: "held" (the peer sent something, an SSH banner, and kept it open) or
#       "closed" (the peer closed it, or never accepted it). Prints
#       "held=H closed=C" and per source "SRC held=H", then keeps them for SECONDS.
#   flood.py blackhole PORTFILE
#       a listening socket with the smallest backlog that never accepts: once its queue is
#       full, connections to it stay in SYN-SENT; writes its port to PORTFILE, runs until
#       killed
import resource
import sys
import time

from tg import connect, listen


def alive(s):
    """Did the peer send something (an SSH banner) and keep the connection open."""
    s.setblocking(False)
    got = False
    while True:
        try:
            d = s.recv(65536)
        except BlockingIOError:
            return got
        except OSError:
            return False
        if not d:
            return False
        got = True


def hold(port, count, seconds, sources):
    conns = []
    for i in range(count):
        src = sources[i % len(sources)]
        try:
            conns.append((src, connect(port, src, 5)))
        except OSError:
            conns.append((src, None))
    time.sleep(1)
    per = {}
    held = 0
    for src, s in conns:
        ok = s is not None and alive(s)
        held += ok
        per[src] = per.get(src, 0) + ok
    print("held=%d closed=%d" % (held, count - held))
    for src in sources:
        print("%s held=%d" % (src, per.get(src, 0)))
    sys.stdout.flush()
    time.sleep(seconds)


def blackhole(portfile):
    s = listen(portfile, 0)  # never accepted from
    try:
        while True:
            time.sleep(3600)
    finally:
        s.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536) if hard != resource.RLIM_INFINITY
                                                    else 65536, hard))
    if cmd == "hold":
        hold(int(args[0]), int(args[1]), float(args[2]), args[3:])
    elif cmd == "blackhole":
        blackhole(args[0])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
