#!/usr/bin/python3
# tunnelgw: SSH clients that misbehave on purpose, for the scenario tests that check no
# tenant can hurt the gateway. Run it with Debian's /usr/bin/python3 (python3-paramiko).
#   hostile.py drop-while-held SSH-PORT KEY BYTES
#       logs in with the OpenSSH private key KEY, opens a session channel but sends no
#       command, asks for a forward of port 0, connects a public client that never reads,
#       accepts the forwarded channel, pushes BYTES toward that public client, then drops
#       its TCP connection without a word. Prints "dropped after N bytes".
#   hostile.py forge SSH-PORT KEY TEXT
#       tries to write TEXT (meant to hold a newline and a fake log line) into the gateway's
#       log through each string a client chooses: a forward's bind address, a command, a
#       `tcp` option and a CIDR in it. Prints one line per attempt with what the client saw.
import socket
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore")

import paramiko  # noqa: E402

from tg import paramiko_login as login  # noqa: E402

HOST = "127.0.0.1"


def drop_while_held(port, keyfile, nbytes):
    """Push data toward a stuck public client while the command is pending, then vanish."""
    t = login(port, keyfile)
    session = t.open_session(timeout=10)  # a session channel whose command never comes
    got = []
    ready = threading.Event()

    def handler(chan, origin, server):
        got.append(chan)
        ready.set()

    public_port = t.request_port_forward("", 0, handler)
    stuck = socket.create_connection((HOST, public_port), timeout=10)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if not ready.wait(10):
        sys.exit("no forwarded channel came")
    chan = got[0]
    chan.settimeout(0.2)
    block = b"x" * 32768
    sent = 0
    deadline = time.monotonic() + 1.0  # well inside the gateway's 2 s wait for a command
    while sent < nbytes and time.monotonic() < deadline:
        try:
            sent += chan.send(block[: min(len(block), nbytes - sent)])
        except socket.timeout:
            continue
    # Vanish: no channel close, no disconnect message, just the TCP connection gone.
    t.sock.shutdown(socket.SHUT_RDWR)
    t.sock.close()
    print("dropped after %d bytes" % sent, flush=True)
    time.sleep(3)  # keep the public client connected past the gateway's wait
    stuck.close()
    session.close()


def run_command(t, command):
    """Run one command on a new session channel; return (status, stderr text)."""
    chan = t.open_session(timeout=10)
    chan.exec_command(command)
    chan.settimeout(10)
    err = b""
    try:
        while True:
            d = chan.recv_stderr(4096)
            if not d:
                break
            err += d
    except socket.timeout:
        pass
    status = chan.recv_exit_status()
    chan.close()
    return status, err.decode(errors="replace").strip()


def forge(port, keyfile, text):
    """Send TEXT through every client-chosen string that reaches the log."""
    t = login(port, keyfile)
    try:
        t.request_port_forward("evil" + text, 0)
        print("bind address: granted")
    except paramiko.SSHException:
        print("bind address: refused")
    t.close()
    for command in ("nope" + text, "tcp --idle-timeout=1" + text,
                    "tcp --allow-cidr=10.0.0.0/8," + text.strip() + "/8",
                    "tcp --x" + text + "=1"):
        t = login(port, keyfile)  # one session channel per connection
        status, err = run_command(t, command)
        print("command: exit %d: %s" % (status, err.splitlines()[0] if err else ""))
        t.close()


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "drop-while-held":
        drop_while_held(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) == 5 and sys.argv[1] == "forge":
        forge(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    sys.exit(__doc__ if __doc__ else "usage: see the top of hostile.py")


if __name__ == "__main__":
    main()
