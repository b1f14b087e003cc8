"""A real Icecast2 (Debian) on loopback. It refuses to run as root, so it runs as the
package's own user, from a configuration and log folder that user owns."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Icecast:
    proc: subprocess.Popen[bytes]
    port: int
    password: str
    root: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_icecast() -> Icecast:
    exe = shutil.which("icecast2")
    if exe is None:
        raise RuntimeError("icecast2 is not installed (make test installs the Debian package)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # pytest's own temporary folders are root's alone: icecast2's user could not read them.
    root = Path(tempfile.mkdtemp(prefix="loa-icecast-"))
    (root / "log").mkdir()
    password = "nguon-phat-thu"
    conf = root / "icecast.xml"
    conf.write_text(
        f"""<icecast>
  <limits><clients>20</clients><sources>4</sources><source-timeout>10</source-timeout><burst-size>16384</burst-size></limits>
  <authentication><source-password>{password}</source-password><admin-user>admin</admin-user>
    <admin-password>quan-tri</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{root / "log"}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
</icecast>
""",
        encoding="utf-8",
    )
    subprocess.run(["chown", "-R", "icecast2:icecast", str(root)], check=True)
    proc = subprocess.Popen(["runuser", "-u", "icecast2", "--", exe, "-c", str(conf)])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Icecast(proc, port, password, root)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("icecast2 did not start: " + (root / "log" / "error.log").read_text(errors="replace"))
