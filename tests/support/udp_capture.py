"""A packet capture in its own process: receive ``count`` UDP datagrams on each of the given
loopback ports and write each one's arrival time and bytes, per port, as JSON.

The arrival time is the kernel's receive timestamp (``SO_TIMESTAMPNS``, socket(7)), taken
when the datagram reached the socket, as tcpdump's are: it measures the sender's spacing on
the wire, not how late this process was woken up to read it (on a loaded 2-core machine that
wake-up can lag by several milliseconds). Where the option is missing it falls back to the
time of reading.

    python -m tests.support.udp_capture COUNT OUTFILE PORT [PORT ...]
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # asm-generic/socket.h; SCM_ has the same value
TIMESPEC = struct.Struct("@qq")  # struct timespec on 64-bit Linux: tv_sec, tv_nsec


def _open(port: int) -> tuple[socket.socket, bool]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        stamped = sys.platform.startswith("linux")
    except OSError:
        stamped = False
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    return sock, stamped


def _receive(sock: socket.socket, stamped: bool) -> tuple[float, bytes]:
    if not stamped:
        data = sock.recv(2048)
        return time.time(), data
    data, ancillary, _, _ = sock.recvmsg(2048, socket.CMSG_SPACE(TIMESPEC.size))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack(payload[: TIMESPEC.size])
            return seconds + nanoseconds / 1e9, data
    return time.time(), data


def main(count: int, out: str, ports: list[int]) -> None:
    selector = selectors.DefaultSelector()
    got: dict[int, list[dict[str, object]]] = {}
    for port in ports:
        sock, stamped = _open(port)
        selector.register(sock, selectors.EVENT_READ, (port, stamped))
        got[port] = []
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while any(len(p) < count for p in got.values()) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            port, stamped = key.data
            arrived, data = _receive(key.fileobj, stamped)  # type: ignore[arg-type]
            got[port].append({"t": arrived, "data": data.hex()})
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({str(port): packets for port, packets in got.items()}, fh)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], [int(p) for p in sys.argv[3:]])
