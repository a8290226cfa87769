#!/usr/bin/python3
# tunnelgw: SSH clients written in Python (paramiko, asyncssh) and speak-first services for
# tests/clients.sh. Run it with Debian's /usr/bin/python3, which has python3-paramiko and
# python3-asyncssh. Every connection goes to 127.0.0.1.
#   sshclients.py paramiko|asyncssh SSH-PORT USER [--key FILE] [-R [ADDR:]PORT:HOST:HOSTPORT]...
#                 [--command CMD]
#       logs in as USER with the OpenSSH private key FILE, or without a key by
#       keyboard-interactive with no answer (a token as the user name); asks for the remote
#       forwards and prints on stderr, as OpenSSH does, "Allocated port N for remote forward to
#       HOST:HOSTPORT" for each granted and "Warning: remote port forwarding failed for listen
#       port PORT" for each refused; runs CMD and copies its output. Without forwards it exits
#       with CMD's status; with forwards it stays connected until killed.
#   sshclients.py bindaddrs SSH-PORT KEY ADDR...
#       paramiko: for each ADDR asks for a forward of ADDR port 0, connects to the granted
#       public port and prints what the forwarded-tcpip channel carried, one line per ADDR:
#       "bind 'ADDR': ok port N" or "bind 'ADDR': FAILED ...". Exits 1 if any failed.
#   sshclients.py greeter PORTFILE BYTES
#       a service that speaks first: on accept it sends "HELLO BYTES SHA256\n" and BYTES random
#       bytes, then waits for the client to close; writes its port to PORTFILE
#   sshclients.py greeted PORT CONNS
#       CONNS concurrent public clients that send nothing and check the greeting arrived whole
import hashlib
import logging
import os
import select
import socket
import sys
import threading
import time
import warnings

import tg

warnings.filterwarnings("ignore")  # asyncssh imports ciphers that cryptography deprecates
logging.getLogger("paramiko").addHandler(logging.NullHandler())  # errors reach main() instead
logging.getLogger("paramiko").propagate = False

HOST = "127.0.0.1"
ALLOCATED = "Allocated port %d for remote forward to %s:%d"  # what OpenSSH prints
REFUSED = "Warning: remote port forwarding failed for listen port %d"


def parse_forward(spec):
    """Split [ADDR:]PORT:HOST:HOSTPORT (ADDR may be [v6] or empty) into a 4-tuple."""
    if spec.startswith("["):
        end = spec.index("]")
        addr, rest = spec[1:end], spec[end + 2:]
        port, host, hport = rest.split(":")
    else:
        parts = spec.split(":")
        if len(parts) == 3:
            addr, (port, host, hport) = "localhost", parts
        else:
            addr, port, host, hport = parts
    return addr, int(port), host, int(hport)


def pump(chan, sock):
    """Copy bytes both ways between a paramiko channel and a socket, passing on EOFs."""
    chan_eof = sock_eof = False
    try:
        while not (chan_eof and sock_eof):
            ready = select.select(([] if chan_eof else [chan]) + ([] if sock_eof else [sock]),
                                  [], [], 60)[0]
            if not ready:
                break
            if chan in ready:
                d = chan.recv(65536)
                if d:
                    sock.sendall(d)
                else:
                    chan_eof = True
                    sock.shutdown(socket.SHUT_WR)
            if sock in ready:
                d = sock.recv(65536)
                if d:
                    chan.sendall(d)
                else:
                    sock_eof = True
                    chan.shutdown_write()
    except OSError:
        pass
    chan.close()
    sock.close()


def copy_out(recv, out):
    """Copy what recv returns to the file out until it returns no bytes."""
    while True:
        d = recv(65536)
        if not d:
            break
        out.buffer.write(d)
        out.flush()


def run_paramiko(port, user, key, forwards, command):
    """Log in with paramiko, set up the forwards, run the command; return an exit status."""
    import paramiko

    t = paramiko.Transport((HOST, port))
    t.start_client(timeout=10)
    if key:
        t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key))
    else:
        t.auth_interactive(user, lambda title, instructions, prompts: [""] * len(prompts))
    targets = {}

    def handler(chan, origin, server):
        """Connect a forwarded-tcpip channel to the target its listening port stands for;
        close one for a port not asked for, as OpenSSH does."""
        if server[1] not in targets:
            print("forwarded-tcpip channel for %s:%d, which was not asked for" % server,
                  file=sys.stderr, flush=True)
            chan.close()
            return
        host, hport = targets[server[1]]
        sock = socket.create_connection((host, hport), timeout=10)
        sock.settimeout(None)
        threading.Thread(target=pump, args=(chan, sock), daemon=True).start()

    for addr, lport, host, hport in forwards:
        try:
            got = t.request_port_forward(addr, lport, handler)
        except paramiko.SSHException:
            print(REFUSED % lport, file=sys.stderr, flush=True)
            continue
        targets[got] = (host, hport)
        print(ALLOCATED % (got, host, hport), file=sys.stderr, flush=True)
    copiers = []
    if command:
        chan = t.open_session()
        chan.exec_command(command)
        copiers = [threading.Thread(target=copy_out, args=(chan.recv, sys.stdout), daemon=True),
                   threading.Thread(target=copy_out, args=(chan.recv_stderr, sys.stderr),
                                    daemon=True)]
        for c in copiers:
            c.start()
    if forwards:
        while t.is_active():
            time.sleep(0.2)
        return 255
    for c in copiers:
        c.join()
    status = chan.recv_exit_status() if command else 0
    t.close()
    return status


def run_asyncssh(port, user, key, forwards, command):
    """Log in with asyncssh, set up the forwards, run the command; return an exit status."""
    import asyncio
    import asyncssh

    class Client(asyncssh.SSHClient):
        """Answers a keyboard-interactive round with no prompt (a token as the user name)."""

        def kbdint_auth_requested(self):
            """Ask for keyboard-interactive, with no particular submethod."""
            return ""

        def kbdint_challenge_received(self, name, instructions, lang, prompts):
            """Answer every prompt (the gateway sends none) with an empty string."""
            return [""] * len(prompts)

    async def copy(src, dst):
        """Copy an asyncssh stream to the file dst until its end."""
        while True:
            d = await src.read(65536)
            if not d:
                break
            dst.buffer.write(d)
            dst.flush()

    async def main():
        conn, _ = await asyncssh.create_connection(
            Client, HOST, port, username=user, known_hosts=None, agent_path=None,
            client_keys=[key] if key else None, password=None, config=[],
            kbdint_auth=not key)
        async with conn:
            for addr, lport, host, hport in forwards:
                try:
                    listener = await conn.forward_remote_port(addr, lport, host, hport)
                except asyncssh.ChannelListenError:
                    print(REFUSED % lport, file=sys.stderr, flush=True)
                    continue
                print(ALLOCATED % (listener.get_port(), host, hport), file=sys.stderr,
                      flush=True)
            proc = None
            if command:
                proc = await conn.create_process(command, encoding=None)
                copying = asyncio.gather(copy(proc.stdout, sys.stdout),
                                         copy(proc.stderr, sys.stderr))
            if forwards:
                await conn.wait_closed()
                return 255
            if proc is None:
                return 0
            await copying
            await proc.wait()
            return proc.exit_status

    return asyncio.run(main())


def bindaddrs(port, key, addrs):
    """Ask for each bind address with port 0 and check the channel carries it back."""
    import paramiko

    t = tg.paramiko_login(port, key)
    seen = []
    arrived = threading.Event()

    def handler(chan, origin, server):
        """Record the connected address and port of the channel, and close it."""
        seen.append(server)
        chan.close()
        arrived.set()

    failed = False
    for addr in addrs:
        try:
            got = t.request_port_forward(addr, 0, handler)
        except paramiko.SSHException as e:
            print("bind '%s': FAILED: request refused (%s)" % (addr, e), flush=True)
            failed = True
            continue
        seen.clear()
        arrived.clear()
        c = socket.create_connection((HOST, got), timeout=5)
        if not arrived.wait(5):
            print("bind '%s': FAILED: granted port %d, but no forwarded-tcpip channel came"
                  % (addr, got), flush=True)
            failed = True
        elif seen[0] != (addr, got):
            print("bind '%s': FAILED: granted port %d, the channel carried %r"
                  % (addr, got, seen[0]), flush=True)
            failed = True
        else:
            print("bind '%s': ok port %d" % (addr, got), flush=True)
        c.close()
    t.close()
    return 1 if failed else 0


def greeter(portfile, nbytes):
    """Serve connections with a greeting sent at once; write the port to portfile."""

    def greet(c):
        """Send the header line and the random bytes, then wait for the client to leave."""
        try:
            payload = os.urandom(nbytes)
            c.sendall(b"HELLO %d %s\n" % (nbytes, hashlib.sha256(payload).hexdigest().encode())
                      + payload)
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()

    tg.serve(portfile, greet)


def one_greeted(port, errors, idx):
    """Connect, send nothing, and check the greeting: header line, then that many bytes."""
    try:
        c = socket.create_connection((HOST, port), timeout=30)
        head = b""
        while not head.endswith(b"\n") and len(head) < 100:
            d = c.recv(1)
            if not d:
                break
            head += d
        fields = head.split()
        if len(fields) != 3 or fields[0] != b"HELLO":
            errors.append("connection %d: the greeting began with %r, not HELLO" % (idx, head[:40]))
            return
        want, digest = int(fields[1]), fields[2].decode()
        got = hashlib.sha256()
        n = 0
        while n < want:
            d = c.recv(min(65536, want - n))
            if not d:
                break
            got.update(d)
            n += len(d)
        c.close()
        if n != want or got.hexdigest() != digest:
            errors.append("connection %d: got %d of %d greeting bytes (sha256 %s, want %s)"
                          % (idx, n, want, got.hexdigest()[:16], digest[:16]))
    except Exception as e:  # noqa: BLE001 - report any failure as a test error
        errors.append("connection %d: %s" % (idx, e))


def greeted(port, conns):
    """Run conns concurrent one_greeted clients; exit 1 with the errors if any failed."""
    tg.concurrently(conns, lambda errors, i: one_greeted(port, errors, i))
    print("%d connection(s): greeting received intact" % conns)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd in ("paramiko", "asyncssh"):
        port, user, rest = int(args[0]), args[1], args[2:]
        key, forwards, command = None, [], None
        while rest:
            opt, val, rest = rest[0], rest[1], rest[2:]
            if opt == "--key":
                key = val
            elif opt == "-R":
                forwards.append(parse_forward(val))
            elif opt == "--command":
                command = val
            else:
                sys.exit("unknown option " + opt)
        run = run_paramiko if cmd == "paramiko" else run_asyncssh
        try:
            sys.exit(run(port, user, key, forwards, command))
        except Exception as e:  # noqa: BLE001 - one line, as a command-line client says it
            sys.exit("%s: %s: %s" % (cmd, type(e).__name__, e))
    elif cmd == "bindaddrs":
        try:
            sys.exit(bindaddrs(int(args[0]), args[1], args[2:]))
        except Exception as e:  # noqa: BLE001 - one line, as a command-line client says it
            sys.exit("paramiko: %s: %s" % (type(e).__name__, e))
    elif cmd == "greeter":
        greeter(args[0], int(args[1]))
    elif cmd == "greeted":
        greeted(int(args[0]), int(args[1]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
