#!/usr/bin/env python3
# tunnelgw: test tool for the scenario tests: upstream services and public clients.
#   tg.py echo PORTFILE            echo service; writes its port to PORTFILE, runs until killed
#   tg.py reply-after-eof PORTFILE reads until EOF, then sends back what it read, twice
#   tg.py stream PORT BYTES CONNS  CONNS concurrent connections each send BYTES random bytes
#                                  and read the echo; compares SHA-256 both ways
#   tg.py halfclose PORT BYTES     sends BYTES, shuts down writing, expects them back twice
#   tg.py closed PORT              succeeds when a connection to PORT is refused or closed
#                                  without data within 2 s
#   tg.py reset PORT BYTES         sends part of BYTES, then resets the connection (RST)
#   tg.py hold PORT N SECONDS      opens N connections and holds them
#   tg.py burst PORT N SRC         N connections from SRC at once: how many were served
#   (stream and closed take an optional last argument: the source address to connect from;
#   from an IPv6 one they connect to ::1)
#   tg.py disconnected PORT MIN MAX [LINE]
#                                  connects (e.g. to the SSH port), sends LINE and CRLF when
#                                  given, else nothing, reads and discards whatever comes, and
#                                  succeeds when the peer closes the connection between MIN
#                                  and MAX seconds after connecting; prints the time it took
# Services that write first, as soon as they accept (TCP_NODELAY, before reading anything):
#   tg.py greet PORTFILE [BYTES]   sends a greeting line (padded to BYTES, default 40, ending
#                                  in CRLF), then echoes what it reads until EOF
#   tg.py push PORTFILE BYTES      sends BYTES of deterministic pseudo-random data, then closes
# and their public clients, N connections one after the other, each checked byte for byte;
# they print the count intact, describe the first broken ones, and fail if any is broken:
#   tg.py greetings PORT N [BYTES] [proxy]
#                                  sends a line and shuts down writing, reads until EOF and
#                                  wants the greeting then its line echoed; with "proxy" the
#                                  echoed PROXY v1 header of the connection in between
#   tg.py downloads PORT N BYTES   reads until EOF and wants the BYTES push sends (SHA-256)
#   tg.py relay PORTFILE PORT MS   TCP relay to PORT; what the connecting side sends within MS
#                                  milliseconds goes on in one write (packets that cross a
#                                  network together), e.g. between ssh and the gateway
# It is also the module of the helpers the other test scripts share (flood.py, hostile.py,
# ppcapture.py and sshclients.py import it): listening on a port given by a port file,
# connecting from a source address, concurrent clients, a paramiko login.
import hashlib
import os
import random
import select
import socket
import struct
import sys
import threading
import time


def listen(portfile, backlog=128):
    """A socket listening on a free port of 127.0.0.1, whose number is then written to portfile
    (whole at once: lib.sh's start_service waits for the file)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, portfile)
    return s


def serve(portfile, handler, at_accept=None):
    """Listen on a free port written to portfile; a thread runs handler for each connection,
    after at_accept, when given, has run in the accept loop itself."""
    s = listen(portfile)
    while True:
        c, _ = s.accept()
        if at_accept is not None:
            at_accept(c)
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def echo(c):
    try:
        while True:
            d = c.recv(262144)
            if not d:
                break
            c.sendall(d)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    c.close()


def reply_after_eof(c):
    data = bytearray()
    try:
        while True:
            d = c.recv(262144)
            if not d:
                break
            data += d
        c.sendall(bytes(data) * 2)
    except OSError:
        pass
    c.close()


def connect(port, src=None, timeout=60):
    """Connect to port on the loopback address, from the source address src if given: to
    127.0.0.1, or to ::1 when src is an IPv6 address."""
    dst = "::1" if src and ":" in src else "127.0.0.1"
    return socket.create_connection((dst, port), timeout=timeout,
                                    source_address=(src, 0) if src else None)


def concurrently(conns, one):
    """Run one(errors, i) for i in range(conns), each in a thread of its own, all at once; each
    appends what went wrong to errors. Exits 1 with those errors, if any."""
    errors = []
    threads = [threading.Thread(target=one, args=(errors, i)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("\n".join(errors))


def one_stream(port, nbytes, errors, idx, src=None):
    try:
        payload = os.urandom(nbytes)
        want = hashlib.sha256(payload).hexdigest()
        c = connect(port, src)
        got = hashlib.sha256()
        received = [0]

        def reader():
            while received[0] < nbytes:
                d = c.recv(262144)
                if not d:
                    break
                got.update(d)
                received[0] += len(d)

        t = threading.Thread(target=reader)
        t.start()
        c.sendall(payload)
        t.join(120)
        c.close()
        if received[0] != nbytes or got.hexdigest() != want:
            errors.append("connection %d: sent %d bytes (sha256 %s), got back %d (sha256 %s)"
                          % (idx, nbytes, want[:16], received[0], got.hexdigest()[:16]))
    except Exception as e:  # noqa: BLE001 - report any failure as a test error
        errors.append("connection %d: %s" % (idx, e))


def stream(port, nbytes, conns, src=None):
    concurrently(conns, lambda errors, i: one_stream(port, nbytes, errors, i, src))
    print("%d connection(s) x %d bytes each way: sha256 equal" % (conns, nbytes))


def paramiko_login(port, keyfile, user="v2"):
    """A paramiko transport logged in to the gateway on 127.0.0.1:port as user, with the
    ed25519 key file keyfile. (paramiko: Debian's /usr/bin/python3 has it.)"""
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(keyfile)
    t = paramiko.Transport(("127.0.0.1", int(port)))
    t.start_client(timeout=10)
    t.auth_publickey(user, key)
    return t


def halfclose(port, nbytes):
    payload = os.urandom(nbytes)
    c = socket.create_connection(("127.0.0.1", port), timeout=60)
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    got = bytearray()
    while True:
        d = c.recv(262144)
        if not d:
            break
        got += d
    if bytes(got) != payload * 2:
        sys.exit("half-close: sent %d bytes, got back %d, want %d" % (nbytes, len(got), 2 * nbytes))
    print("half-close: full reply of %d bytes received after shutting down writes" % len(got))


def closed(port, src=None):
    try:
        c = connect(port, src, 2)
    except ConnectionRefusedError:
        print("refused")
        return
    c.settimeout(2)
    try:
        d = c.recv(1)
    except socket.timeout:
        sys.exit("connection to %d stayed open" % port)
    except ConnectionResetError:
        d = b""
    if d:
        sys.exit("connection to %d sent data" % port)
    print("closed")


def burst(port, count, src):
    """Make count connections from src at once; print how many echoed and how many closed."""
    conns, served = [], 0
    for _ in range(count):
        try:
            conns.append(connect(port, src, 5))
        except OSError:
            pass
    for c in conns:
        try:
            c.sendall(b"x")
            served += 1 if c.recv(1) == b"x" else 0
        except OSError:
            pass
        c.close()
    print("served=%d closed=%d" % (served, count - served))


def reset(port, nbytes):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(os.urandom(nbytes // 2))
    c.recv(1)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    print("reset sent")


def disconnected(port, tmin, tmax, line=None):
    start = time.monotonic()
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    if line is not None:
        c.sendall(line.encode() + b"\r\n")
    c.settimeout(0.1)
    while True:
        took = time.monotonic() - start
        if took > tmax:
            sys.exit("connection to %d still open after %.1f s (want closed within %g-%g s)"
                     % (port, took, tmin, tmax))
        try:
            d = c.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            break
    took = time.monotonic() - start
    c.close()
    if took < tmin:
        sys.exit("connection to %d closed after %.2f s, before %g s" % (port, took, tmin))
    print("closed by the peer after %.2f s" % took)


def hold(port, count, seconds):
    """Open count connections to port and keep them for seconds (or until killed)."""
    import time
    conns = []
    for _ in range(count):
        try:
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    print("holding %d connections" % len(conns), flush=True)
    time.sleep(seconds)


GREET_BYTES = 40


def greeting(nbytes):
    """The greet service's greeting: one line of exactly nbytes bytes, CRLF included."""
    head = b"220 tg.py greets you "
    if nbytes < len(head) + 2:
        sys.exit("a greeting is at least %d bytes" % (len(head) + 2))
    pad = bytes(ord("a") + i % 26 for i in range(nbytes - len(head) - 2))
    return head + pad + b"\r\n"


def push_data(nbytes):
    """The bytes the push service sends: pseudo-random, the same for the same size."""
    return random.Random(nbytes).randbytes(nbytes)


def serve_first(portfile, data, then):
    """A service that writes first: on accept, with TCP_NODELAY, as much of data as the socket
    takes goes out at once, from the accept loop (no thread start in between); a thread sends
    the rest, then runs then(c)."""
    sent = {}

    def at_accept(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sent[c] = c.send(data, socket.MSG_DONTWAIT)
        except OSError:
            sent[c] = 0

    def handler(c):
        try:
            c.sendall(data[sent.pop(c):])
            then(c)
        except OSError:
            c.close()

    serve(portfile, handler, at_accept)


def close_after_push(c):
    c.shutdown(socket.SHUT_WR)
    c.settimeout(10)
    try:
        while c.recv(65536):    # wait for the other side to finish, so nothing is reset
            pass
    except OSError:
        pass
    c.close()


def read_all(c, limit):
    """Read until EOF, or until more than limit bytes came; a timeout or reset ends it too."""
    got = bytearray()
    why = "EOF"
    try:
        while len(got) <= limit:
            d = c.recv(262144)
            if not d:
                break
            got += d
        else:
            why = "more than expected"
    except socket.timeout:
        why = "timeout"
    except OSError as e:
        why = str(e)
    return bytes(got), why


def describe(got, want):
    """Say how got differs from want: how much arrived, where it first differs, which part
    of want it is (a lost head shows as got being the tail of want)."""
    first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                 min(len(got), len(want)))
    text = "got %d of %d bytes, first difference at offset %d" % (len(got), len(want), first)
    if 0 < len(got) < len(want) and want.endswith(got):
        text += "; got the last %d bytes: the first %d are missing" % (
            len(got), len(want) - len(got))
    elif len(got) < len(want) and want.startswith(got):
        text += "; got the first %d bytes: the rest is missing" % len(got)
    return text


def report(kind, total, broken):
    for line in broken[:5]:
        print("  " + line, file=sys.stderr)
    print("%s: %d/%d intact" % (kind, total - len(broken), total), flush=True)
    if broken:
        sys.exit(1)


def one_greeting(port, i, hello, proxy):
    """Connection i to the greet service: None when intact, else what went wrong."""
    line = b"tg.py line %d\n" % i
    try:
        c = connect(port, timeout=10)
        want = hello
        if proxy:
            src, dst = c.getsockname(), c.getpeername()
            want += b"PROXY TCP4 %s %s %d %d\r\n" % (src[0].encode(), dst[0].encode(),
                                                    src[1], dst[1])
        want += line
        c.sendall(line)
        c.shutdown(socket.SHUT_WR)
        got, why = read_all(c, len(want))
        c.close()
    except OSError as e:
        return "connection %d: %s" % (i + 1, e)
    if got != want:
        return "connection %d (%s): %s; first bytes %r" % (i + 1, why, describe(got, want),
                                                           got[:60])
    return None


def greetings(port, count, nbytes=GREET_BYTES, proxy=False):
    hello = greeting(nbytes)
    results = [one_greeting(port, i, hello, proxy) for i in range(count)]
    report("greetings", count, [r for r in results if r is not None])


def downloads(port, count, nbytes):
    data = push_data(nbytes)
    want = hashlib.sha256(data).hexdigest()
    broken = []
    for i in range(count):
        try:
            c = connect(port, timeout=10)
            got, why = read_all(c, nbytes)
            c.close()
        except OSError as e:
            broken.append("download %d: %s" % (i + 1, e))
            continue
        if hashlib.sha256(got).hexdigest() != want:
            broken.append("download %d (%s): %s" % (i + 1, why, describe(got, data)))
    report("downloads of %d bytes" % nbytes, count, broken)


def relay_pipe(a, b, ms):
    """Copy from a to b until EOF, then shut down b's writing. Bytes arriving within ms of
    the first byte of a write go on together in that one write."""
    try:
        while True:
            d = a.recv(262144)
            if not d:
                break
            buf = bytearray(d)
            deadline = time.monotonic() + ms / 1000.0
            while d:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([a], [], [], left)[0]:
                    break
                d = a.recv(262144)
                buf += d
            b.sendall(buf)
            if not d:
                break
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(portfile, port, ms):
    """A TCP relay to 127.0.0.1:port; what the connecting side sends within ms goes on in
    one write, so that its packets reach the other side together, as across a network."""
    def handler(c):
        try:
            u = connect(port)
        except OSError:
            c.close()
            return
        for x in (c, u):
            x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            x.settimeout(None)
        t = threading.Thread(target=relay_pipe, args=(c, u, ms), daemon=True)
        t.start()
        relay_pipe(u, c, 0)
        t.join()
        c.close()
        u.close()

    serve(portfile, handler)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "echo":
        serve(args[0], echo)
    elif cmd == "reply-after-eof":
        serve(args[0], reply_after_eof)
    elif cmd == "stream":
        stream(int(args[0]), int(args[1]), int(args[2]), args[3] if len(args) > 3 else None)
    elif cmd == "halfclose":
        halfclose(int(args[0]), int(args[1]))
    elif cmd == "closed":
        closed(int(args[0]), args[1] if len(args) > 1 else None)
    elif cmd == "burst":
        burst(int(args[0]), int(args[1]), args[2])
    elif cmd == "hold":
        hold(int(args[0]), int(args[1]), float(args[2]))
    elif cmd == "reset":
        reset(int(args[0]), int(args[1]))
    elif cmd == "disconnected":
        disconnected(int(args[0]), float(args[1]), float(args[2]),
                     args[3] if len(args) > 3 else None)
    elif cmd == "greet":
        serve_first(args[0], greeting(int(args[1]) if len(args) > 1 else GREET_BYTES), echo)
    elif cmd == "push":
        serve_first(args[0], push_data(int(args[1])), close_after_push)
    elif cmd == "relay":
        relay(args[0], int(args[1]), float(args[2]))
    elif cmd == "greetings":
        greetings(int(args[0]), int(args[1]),
                  int(args[2]) if len(args) > 2 and args[2] != "proxy" else GREET_BYTES,
                  args[-1] == "proxy")
    elif cmd == "downloads":
        downloads(int(args[0]), int(args[1]), int(args[2]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
