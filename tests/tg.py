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
#   (stream and closed take an optional last argument: the source address to connect from)
#   tg.py disconnected PORT MIN MAX [LINE]
#                                  connects (e.g. to the SSH port), sends LINE and CRLF when
#                                  given, else nothing, reads and discards whatever comes, and
#                                  succeeds when the peer closes the connection between MIN
#                                  and MAX seconds after connecting; prints the time it took
import hashlib
import os
import socket
import struct
import sys
import threading
import time


def serve(portfile, handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, portfile)
    while True:
        c, _ = s.accept()
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
    """Connect to 127.0.0.1:port, from the source address src if given."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(src, 0) if src else None)


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
    errors = []
    threads = [threading.Thread(target=one_stream, args=(port, nbytes, errors, i, src))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("\n".join(errors))
    print("%d connection(s) x %d bytes each way: sha256 equal" % (conns, nbytes))


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
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
