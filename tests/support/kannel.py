"""A real Kannel (Debian's bearerbox + smsbox) with its fake SMSC on loopback.

The configuration follows the Kannel user guide's minimal fake-SMSC setup; fakesmsc
(kannel-extras) plays the operator: it injects MO messages and prints every MT message
it receives ("Server replies are shown in the same message format").
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"Kannel port {port} did not open")


@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    log: Path

    def send_mo(self, sender: str, receiver: str, kind: str, data: str) -> None:
        """One MO: kind 'text' (plain) or 'ucs2' (URL-encoded UTF-16BE), as fakesmsc reads them."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{sender} {receiver} {kind} {data}\n".encode())
        self.proc.stdin.flush()

    def received(self) -> list[tuple[str, str, str]]:
        """MT messages the operator got: (sender, receiver, text), UCS-2 decoded."""
        from urllib.parse import unquote_to_bytes

        got = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.search(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$", line)
            if not match:
                continue
            sender, receiver, kind, data = match.groups()
            if kind == "udh":  # a concatenated part: see parts()
                continue
            raw = unquote_to_bytes(data.replace("+", "%20") if kind != "ucs-2" else data)
            text = raw.decode("utf-16-be") if kind == "ucs-2" else raw.decode("latin-1")
            got.append((sender, receiver, text.replace("+", " ") if kind == "ucs-2" else text))
        return got

    def parts(self) -> list[tuple[str, bytes, bytes]]:
        """Concatenated MT parts as fakesmsc prints them ("udh <udh> data <octets>"):
        (receiver, UDH octets, user data octets)."""
        from urllib.parse import unquote_to_bytes

        got = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.search(r"Got message \d+: <(\S+) (\S+) udh (\S+) \S+ (.*)>$", line)
            if match:
                _, receiver, udh, data = match.groups()
                got.append((receiver, unquote_to_bytes(udh), unquote_to_bytes(data.replace("+", "%20"))))
        return got


@dataclass
class Kannel:
    root: Path
    sendsms_port: int
    smsc_port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def operator(self) -> Operator:
        """fakesmsc in interactive mode: MO lines go in on stdin, MT lines come out in its log."""
        log = self.root / "fakesmsc.log"
        out = log.open("ab")
        proc = subprocess.Popen(
            [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.smsc_port)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.procs.append(proc)
        return Operator(proc, log)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.stdin is not None:
                proc.stdin.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_kannel(root: Path, mo_url: str) -> Kannel:
    if not (shutil.which("bearerbox") or Path("/usr/sbin/bearerbox").exists()) or not Path(FAKESMSC).exists():
        raise RuntimeError("Kannel is not installed (make test installs Debian's kannel and kannel-extras)")
    admin, box, smsc, sendsms = _port(), _port(), _port(), _port()
    conf = root / "kannel.conf"
    conf.write_text(
        f"""
group = core
admin-port = {admin}
admin-password = adminpw
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{root}/bearerbox.log"
log-level = 1

group = smsc
smsc = fake
smsc-id = FAKE
port = {smsc}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
global-sender = 8088
mo-recode = true
log-file = "{root}/smsbox.log"
log-level = 1

group = sendsms-user
username = gw
password = gwpass
user-allow-ip = "127.0.0.1"
max-messages = 5
concatenation = true

group = sms-service
keyword = default
get-url = "{mo_url}&from=%p&to=%P&text=%a&coding=%c&charset=%C"
max-messages = 0
catch-all = true
""",
        encoding="utf-8",
    )
    kannel = Kannel(root, sendsms, smsc)
    for binary in ("bearerbox", "smsbox"):
        exe = shutil.which(binary) or f"/usr/sbin/{binary}"
        log = (root / f"{binary}.out").open("ab")
        kannel.procs.append(subprocess.Popen([exe, str(conf)], stdout=log, stderr=subprocess.STDOUT))
        log.close()
        _wait_port(box if binary == "bearerbox" else sendsms)
    _wait_port(smsc)
    return kannel
