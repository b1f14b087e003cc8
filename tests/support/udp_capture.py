"""A packet capture in its own process (so the sender's process cannot delay it): receive
``count`` UDP datagrams on each of the given loopback ports and write each one's arrival
time and bytes, per port, as JSON.

    python -m tests.support.udp_capture COUNT OUTFILE PORT [PORT ...]
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time


def main(count: int, out: str, ports: list[int]) -> None:
    selector = selectors.DefaultSelector()
    got: dict[int, list[dict[str, object]]] = {}
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, port)
        got[port] = []
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while any(len(p) < count for p in got.values()) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            data = key.fileobj.recv(2048)  # type: ignore[union-attr]
            got[key.data].append({"t": time.perf_counter(), "data": data.hex()})
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({str(port): packets for port, packets in got.items()}, fh)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], [int(p) for p in sys.argv[3:]])
