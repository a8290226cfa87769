#!/usr/bin/python3
"""tunnelgw: UDP services and public clients for tests/udp.sh (UDP tunnels end to end).

  udptun.py echo PORTFILE          UDP echo service on 127.0.0.1: each datagram goes back to
                                   its source as it came (a PROXY header included); the
                                   datagram "SOURCES?" is answered with how many sources sent
                                   to it so far
  udptun.py blackhole PORTFILE     TCP server standing in for a stuck tunnelgw-udp: answers
                                   the hello, then never reads
  udptun.py sizes PORT [HOST]      datagrams of 1 to 65,507 bytes (every size to 1,500, then
                                   steps, and 65,507) come back whole, contents checked
  udptun.py flows PORT N           N sockets on 127.0.0.3, each its own flow, send at once; each gets its
                                   own reply, and the service saw N sources more
  udptun.py proxy PORT PUBHOST     the first datagram of a flow comes with a PROXY v2 DGRAM
                                   header naming the client and the public address; the
                                   second comes bare
  udptun.py silent PORT SRC        a datagram from SRC gets no answer within 1 s
  udptun.py flood PORT SECONDS     sends 1,200-byte datagrams for SECONDS, reading nothing;
                                   prints how many went out
Prints "ok ..." lines; exits 1 with "FAIL: ..." on the first failure."""
import os
import random
import select
import socket
import struct
import sys
import time

HELLO = b"TGUDP\x00\x01\x00"
PP2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def ok(what):
    print(f"ok - {what}", flush=True)


def fail(what):
    print(f"FAIL: {what}", flush=True)
    sys.exit(1)


def write_port(portfile, port):
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, portfile)


def echo(portfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    write_port(portfile, s.getsockname()[1])
    sources = set()
    while True:
        data, src = s.recvfrom(65535)
        if data == b"SOURCES?":
            s.sendto(str(len(sources)).encode(), src)
            continue
        sources.add(src)
        s.sendto(data, src)


def blackhole(portfile):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    write_port(portfile, s.getsockname()[1])
    held = []
    while True:
        c, _ = s.accept()
        c.sendall(HELLO)
        held.append(c)	# never read: the SSH client's buffers and window fill


def target(port, host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


def ask(sock, addr, data, timeout=3.0):
    sock.sendto(data, addr)
    sock.settimeout(timeout)
    reply, _ = sock.recvfrom(70000)
    return reply


def sizes(port, host="127.0.0.1"):
    family, addr = target(port, host)
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    want = list(range(1, 1501)) + list(range(1501, 65507, 997)) + [65507]
    rng = random.Random(7)
    for n in want:
        data = rng.randbytes(n)
        try:
            got = ask(s, addr, data)
        except socket.timeout:
            fail(f"no reply to a datagram of {n} bytes from {host}")
        if got != data:
            fail(f"a datagram of {n} bytes came back as {len(got)} different bytes")
    ok(f"{len(want)} datagrams of 1 to 65,507 bytes from {host} came back whole")


def sources(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return int(ask(s, addr, b"SOURCES?"))


def flows(port, n):
    n = int(n)
    _, addr = target(port)
    svc = ("127.0.0.1", int(os.environ["UDPTUN_SERVICE"]))
    before = sources(svc)
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # From an address no earlier client used: a source port that an earlier client's
        # flow still holds (for udp_flow_timeout) would be that flow, rightly, not a new one.
        s.bind(("127.0.0.3", 0))
        s.setblocking(False)
        socks.append(s)
    for i, s in enumerate(socks):
        s.sendto(b"flow %d" % i, addr)
    want = {s.fileno(): (s, b"flow %d" % i) for i, s in enumerate(socks)}
    deadline = time.time() + 20
    poll = select.poll()
    for s in socks:
        poll.register(s, select.POLLIN)
    wrong = 0
    resent = 0
    while want and time.time() < deadline:
        ready = poll.poll(500)
        if not ready:
            # A datagram may be lost on loopback under a burst (a full socket): ask again.
            for s, data in want.values():
                s.sendto(data, addr)
                resent += 1
            continue
        for fd, _ in ready:
            s, data = want.get(fd, (None, None))
            if s is None:
                continue
            got = s.recv(100)
            if got != data:
                wrong += 1
            poll.unregister(fd)
            del want[fd]
    if want:
        fail(f"{len(want)} of {n} flows got no reply")
    if wrong:
        fail(f"{wrong} of {n} flows got another flow's reply")
    after = sources(svc)
    if after - before != n:
        fail(f"the service saw {after - before} new sources, not {n}")
    ok(f"{n} flows from distinct source ports: each got its own reply ({resent} resent), "
       f"and the service saw {n} sources, one socket per flow")


def proxy(port, pubhost):
    _, addr = target(port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.5", 0))
    me = s.getsockname()
    got = ask(s, addr, b"first")
    if not got.startswith(PP2_SIG):
        fail(f"the first datagram came without a PROXY v2 header: {got[:40]!r}")
    ver, fam, length = got[12], got[13], struct.unpack(">H", got[14:16])[0]
    if ver != 0x21 or fam != 0x12:
        fail(f"version/command {ver:#x} and family/transport {fam:#x}, not 0x21 and 0x12")
    src, dst = socket.inet_ntoa(got[16:20]), socket.inet_ntoa(got[20:24])
    sport, dport = struct.unpack(">HH", got[24:28])
    if (src, sport) != me or (dst, dport) != ("127.0.0.1", int(port)):
        fail(f"header says {src}:{sport} -> {dst}:{dport}, not {me} -> 127.0.0.1:{port}")
    tlvs = got[28:16 + length]
    if pubhost.encode() not in tlvs:
        fail(f"no authority TLV {pubhost} in {tlvs!r}")
    if got[16 + length:] != b"first":
        fail(f"the datagram after the header is {got[16 + length:]!r}")
    ok("the first datagram of a flow carries a PROXY v2 header, transport DGRAM, naming the "
       "client, the public address and the authority, followed by the datagram itself")
    got = ask(s, addr, b"second")
    if got != b"second":
        fail(f"the second datagram came as {got!r}")
    ok("the flow's second datagram comes bare")


def silent(port, src):
    _, addr = target(port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    try:
        got = ask(s, addr, b"hello?", 1.0)
        fail(f"a datagram from {src} was answered: {got!r}")
    except socket.timeout:
        pass
    ok(f"a datagram from {src} got no answer")


def flood(port, seconds):
    _, addr = target(port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    data = b"f" * 1200
    n = 0
    end = time.time() + float(seconds)
    while time.time() < end:
        for _ in range(100):
            try:
                s.sendto(data, addr)
                n += 1
            except BlockingIOError:
                pass
    print(n, flush=True)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"echo": echo, "blackhole": blackhole, "sizes": sizes, "flows": flows, "proxy": proxy,
     "silent": silent, "flood": flood}[cmd](*args)


if __name__ == "__main__":
    main()
