#!/usr/bin/python3
"""tunnelgw: tunnelgw-udp against a stand-in gateway speaking doc/udp.md, version 1.

udphelper.py HELPER: starts a UDP echo service and the helper, then, as the gateway would:
hello both ways; datagrams of 1 to 65,507 bytes come back whole; 1,000 flows, each with its
own socket toward the service; CLOSE ends a flow; IDLE sets when the helper ends silent flows
itself; unknown frame types are skipped; a stream
with a wrong hello is closed while others go on; the counts on SIGUSR1. Prints "ok ..."."""
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HELLO = b"TGUDP\x00\x01\x00"
DATA, OPEN, CLOSE = 1, 2, 3
checks = 0


def ok(what):
    global checks
    checks += 1
    print(f"ok {checks} - {what}", flush=True)


def fail(what):
    print(f"FAIL: {what}", flush=True)
    sys.exit(1)


class Echo(threading.Thread):
    """A UDP service that sends each datagram back to where it came from, noting sources."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sources = set()

    def run(self):
        while True:
            data, src = self.sock.recvfrom(65535)
            self.sources.add(src)
            self.sock.sendto(data, src)


def frame(kind, flow, payload=b""):
    return struct.pack(">BIH", kind, flow, len(payload)) + payload


def open_payload(port):
    return bytes([4]) + socket.inet_aton("198.51.100.7") + struct.pack(">H", port)


class Stream:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("the helper closed the stream")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        kind, flow, n = struct.unpack(">BIH", self.read(7))
        return kind, flow, self.read(n)


def main():
    helper = sys.argv[1]
    echo = Echo()
    echo.start()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    lport = probe.getsockname()[1]
    probe.close()
    err = open(os.environ.get("TMPDIR", "/tmp") + f"/udphelper.{os.getpid()}.err", "w+")
    proc = subprocess.Popen([helper, "-v", str(lport), f"127.0.0.1:{echo.port}"],
                            stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                st = Stream(lport)
                break
            except OSError:
                if time.monotonic() > deadline:
                    fail("the helper does not listen")
                time.sleep(0.05)
        st.send(HELLO)
        if st.read(8) != HELLO:
            fail("the helper's hello")
        ok("hello both ways: TGUDP, version 1")

        # Datagrams from 1 to 65,507 bytes, contents checked.
        st.send(frame(OPEN, 1, open_payload(40000)))
        sizes = list(range(1, 65)) + [512, 1200, 1472, 1500, 8192, 9000, 32768, 65000, 65507]
        rnd = random.Random(7)
        for n in sizes:
            d = bytes(rnd.getrandbits(8) for _ in range(min(n, 256))) * (n // 256 + 1)
            d = d[:n]
            st.send(frame(DATA, 1, d))
            kind, flow, back = st.frame()
            if (kind, flow, back) != (DATA, 1, d):
                fail(f"a datagram of {n} bytes came back as type {kind}, flow {flow}, {len(back)} bytes")
        ok(f"{len(sizes)} datagrams of 1 to 65,507 bytes each come back whole, on their flow")

        # 1,000 flows: each its own socket toward the service; replies find their flow.
        sources_before = len(echo.sources)
        st.send(b"".join(frame(OPEN, 100 + i, open_payload(41000 + i)) +
                         frame(DATA, 100 + i, b"flow %d" % (100 + i)) for i in range(1000)))
        got = {}
        while len(got) < 1000:
            kind, flow, back = st.frame()
            if kind != DATA:
                fail(f"frame type {kind} for flow {flow}")
            got[flow] = back
        if any(got[f] != b"flow %d" % f for f in got):
            fail("a reply came back on another flow")
        if len(echo.sources) - sources_before != 1000:
            fail(f"the service saw {len(echo.sources) - sources_before} sources, not 1,000")
        ok("1,000 flows: the service sees 1,000 sockets, and each reply comes back on its flow")

        # CLOSE ends a flow: a DATA for it afterwards is ignored; an unknown type is skipped.
        st.send(frame(CLOSE, 100) + frame(DATA, 100, b"late") + frame(9, 5, b"later version") +
                frame(DATA, 101, b"still here"))
        kind, flow, back = st.frame()
        if (kind, flow, back) != (DATA, 101, b"still here"):
            fail(f"after CLOSE: {kind} {flow} {back!r}")
        ok("a DATA after its flow's CLOSE is ignored, an unknown frame type skipped, others go on")

        # A stream with a wrong hello is closed; the first stream goes on.
        bad = Stream(lport)
        bad.send(b"SSH-2.0-x\r\n")
        try:
            bad.read(8)     # the helper's hello, then the end
            bad.read(1)
            fail("a stream with a wrong hello stayed open")
        except (EOFError, ConnectionResetError):
            pass
        st.send(frame(DATA, 1, b"again"))
        if st.frame() != (DATA, 1, b"again"):
            fail("the first stream stopped")
        ok("a stream with a wrong hello is closed, and the first goes on")

        # A frame split across writes, byte by byte.
        for b in frame(DATA, 1, b"split"):
            st.send(bytes([b]))
            time.sleep(0.001)
        if st.frame() != (DATA, 1, b"split"):
            fail("a frame sent byte by byte")
        ok("a frame that arrives a byte at a time is read whole")

        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        err.seek(0)
        text = err.read()
        if "1001 flows" not in text or "dropped" not in text:
            fail(f"no counts on SIGUSR1: {text[-500:]}")
        ok("SIGUSR1 prints the counts")

        # IDLE: the gateway's flow timeout; the helper closes a silent flow 5 s after it.
        st2 = Stream(lport)
        if st2.read(8) != HELLO:
            fail("no hello on a second stream")
        st2.send(HELLO + frame(4, 0, struct.pack(">I", 1)) + frame(OPEN, 7, open_payload(4007)) +
                 frame(DATA, 7, b"idle soon"))
        if st2.frame() != (DATA, 7, b"idle soon"):
            fail("no reply on the second stream")
        start = time.time()
        st2.sock.settimeout(15)
        if st2.frame() != (CLOSE, 7, b""):
            fail("no CLOSE for the silent flow")
        took = time.time() - start
        if not 5 <= took <= 12:
            fail(f"the silent flow closed after {took:.1f} s, not 6 to 11 (IDLE 1 + 5, swept every 5 s)")
        ok(f"IDLE 1: the helper closes a silent flow itself after {took:.1f} s and says CLOSE")
        st2.sock.close()
        st.sock.close()
        proc.send_signal(signal.SIGTERM)
        if proc.wait(10) != 0:
            fail(f"exit status {proc.returncode}")
        ok("SIGTERM: it stops, status 0")
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
        os.unlink(err.name)
    print("all helper checks passed")


main()
