"""Issue 18: the shipped ``conf/asterisk/manager.conf`` gives the ``loa`` AMI user only
what Loa uses (Login, Ping, Originate; the call and system events), from Loa's host only,
and the docs name the Asterisk releases that fix CVE-2024-42365 (write=originate could
write the configuration files). Classes as Asterisk's manager.conf.sample defines them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# CVE-2024-42365: the first fixed release of each branch (22: every 22.x).
FIXED = ("18.24.2", "20.9.2", "21.4.2", "22.", "18.9-cert11", "20.7-cert2")


def _sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    """manager.conf as Asterisk reads it: [section], key = value, ';' comments."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            out[current] = []
        elif "=" in line and current:
            key, _, value = line.partition("=")
            out[current].append((key.strip().lower(), value.strip()))
    return out


def _classes(entries: list[tuple[str, str]], key: str) -> set[str]:
    return {c.strip() for k, v in entries if k == key for c in v.split(",") if c.strip()}


def test_peers_manager_conf_loa_user_has_least_privilege() -> None:
    loa = _sections(ROOT / "conf" / "asterisk" / "manager.conf")["loa"]
    # reporting: CoreShowChannels, read-only, for a call whose worker died (docs/chaos.md);
    # call: Hangup, which a stop needs to end the calls playing a wrong bulletin (docs/stop.md)
    assert _classes(loa, "write") == {"originate", "reporting", "call"}
    assert _classes(loa, "read") <= {"system", "call"} and "call" in _classes(loa, "read")


def test_peers_manager_conf_permits_only_loas_host() -> None:
    conf = _sections(ROOT / "conf" / "asterisk" / "manager.conf")
    loa = conf["loa"]
    acl = [(k, v) for k, v in loa if k in ("permit", "deny")]
    assert acl[0] == ("deny", "0.0.0.0/0.0.0.0")  # everything refused first
    permits = [ipaddress.ip_network(v.replace(" ", ""), strict=True) for k, v in acl if k == "permit"]
    assert len(permits) == 1 and permits[0].num_addresses == 1
    assert dict(conf["general"]).get("webenabled") == "no"


def test_peers_docs_name_the_asterisk_releases_fixing_cve_2024_42365() -> None:
    text = (ROOT / "docs" / "telephony-security.md").read_text(encoding="utf-8")
    assert "CVE-2024-42365" in text
    for release in FIXED:
        assert release in text, release
