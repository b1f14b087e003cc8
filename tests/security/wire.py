"""A raw HTTP/1.1 client that streams a chunked body and stops as soon as the server
answers: how many bytes left before the answer tells whether the server cut it off."""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Sent:
    status: int
    sent: int  # body bytes written before the answer came (or the server closed)
    answer: bytes


def stream(port: int, path: str, total: int, headers: dict[str, str], prefix: bytes = b"", suffix: bytes = b"") -> Sent:
    """POST ``prefix`` + ``total`` filler bytes + ``suffix`` with Transfer-Encoding: chunked."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = 0
    frame = b"%x\r\n" % CHUNK + b"a" * CHUNK + b"\r\n"
    try:
        if prefix:
            sock.sendall(b"%x\r\n" % len(prefix) + prefix + b"\r\n")
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(frame)
            sent += CHUNK
        else:
            if suffix:
                sock.sendall(b"%x\r\n" % len(suffix) + suffix + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            block = sock.recv(65536)
            if not block:
                break
            answer += block
        head, _, body = answer.partition(b"\r\n\r\n")
        length = next(
            (int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")), 0
        )
        while len(body) < length:
            block = sock.recv(65536)
            if not block:
                break
            body += block
        answer = head + b"\r\n\r\n" + body
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return Sent(status, sent, answer)
