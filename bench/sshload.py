#!/usr/bin/python3
"""sshload: SSH tunnel load client for bench/run (python3-asyncssh; loopback only).

  sshload.py setup PORT USER KEY SVCPORT N CONC
      N tunnel set-ups, CONC at a time: SSH connect + key auth + tcpip-forward granted
      (port 0), then the connection is closed. Prints setups, ok, failed, secs, rate.

  sshload.py hold PORT USER KEY SVCPORT N CONC [PER]
      opens N tunnels, remote forwards (port 0 -> localhost:SVCPORT), PER on each SSH
      connection (default 1), CONC connections set up at a time; then probes every tunnel
      with a 16-byte echo through its public port (127.0.0.1:PORT, i.e. public client ->
      server -> this client -> SVCPORT), prints "held=H probed_ok=P failed=F secs=S" and the
      errors seen, and keeps everything open until stdin reaches EOF.
"""
import asyncio
import collections
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import asyncssh  # noqa: E402

MSG = b"0123456789abcdef"


async def connect(port, user, key):
    return await asyncssh.connect(
        "127.0.0.1", port, username=user, client_keys=[key], known_hosts=None,
        agent_path=None, preferred_auth="publickey", config=None,
        login_timeout=60, keepalive_interval=0)


async def one_setup(port, user, key, svc):
    conn = await connect(port, user, key)
    listener = await conn.forward_remote_port("", 0, "localhost", svc)
    return conn, listener


def errname(e):
    s = "%s: %s" % (type(e).__name__, e)
    return s[:160]


async def setup(port, user, key, svc, n, conc):
    sem = asyncio.Semaphore(conc)
    errors = collections.Counter()
    ok = 0

    async def task():
        nonlocal ok
        async with sem:
            try:
                conn, _ = await one_setup(port, user, key, svc)
                ok += 1
                conn.close()
                await conn.wait_closed()
            except Exception as e:  # noqa: BLE001 - count every failure
                errors[errname(e)] += 1

    t0 = time.monotonic()
    await asyncio.gather(*(task() for _ in range(n)))
    secs = time.monotonic() - t0
    print("setups=%d ok=%d failed=%d secs=%.2f rate=%.1f" % (n, ok, n - ok, secs, ok / secs))
    for e, c in errors.most_common(10):
        print("error %dx %s" % (c, e))


async def probe(port):
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    try:
        w.write(MSG)
        got = await asyncio.wait_for(r.readexactly(len(MSG)), 30)
        if got != MSG:
            raise ValueError("echo mismatch")
    finally:
        w.close()


async def hold(port, user, key, svc, n, conc, per=1):
    sem = asyncio.Semaphore(conc)
    errors = collections.Counter()
    held = []
    t0 = time.monotonic()
    last = [t0]

    async def open_one(count):
        async with sem:
            try:
                conn = await connect(port, user, key)
            except Exception as e:  # noqa: BLE001
                errors["open: " + errname(e)] += count
                return
            for _ in range(count):
                try:
                    listener = await conn.forward_remote_port("", 0, "localhost", svc)
                    held.append((conn, listener.get_port()))
                except Exception as e:  # noqa: BLE001
                    errors["forward: " + errname(e)] += 1
            if time.monotonic() - last[0] > 5:
                last[0] = time.monotonic()
                print("sshload hold: %.0f s: %d tunnels open, %d failed"
                      % (last[0] - t0, len(held), sum(errors.values())),
                      file=sys.stderr, flush=True)

    await asyncio.gather(*(open_one(min(per, n - i)) for i in range(0, n, per)))
    t_open = time.monotonic() - t0
    probed = 0
    psem = asyncio.Semaphore(64)

    async def probe_one(pport):
        nonlocal probed
        async with psem:
            try:
                await probe(pport)
                probed += 1
            except Exception as e:  # noqa: BLE001
                errors["probe: " + errname(e)] += 1

    await asyncio.gather(*(probe_one(p) for _, p in held))
    print("held=%d probed_ok=%d failed=%d secs=%.1f open_secs=%.1f"
          % (len(held), probed, n - probed, time.monotonic() - t0, t_open), flush=True)
    for e, c in errors.most_common(10):
        print("error %dx %s" % (c, e), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for conn in {c for c, _ in held}:
        conn.close()


def main():
    mode = sys.argv[1]
    port, user, keyfile, svc, n, conc = sys.argv[2:8]
    key = asyncssh.read_private_key(keyfile)
    args = (int(port), user, key, int(svc), int(n), int(conc))
    if mode == "setup":
        asyncio.run(setup(*args))
    elif mode == "hold":
        asyncio.run(hold(*args, int(sys.argv[8]) if len(sys.argv) > 8 else 1))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
