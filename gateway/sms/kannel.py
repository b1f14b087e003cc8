"""Kannel HTTP transport: MT through smsbox's sendsms, MO and delivery reports through
our callback URLs (Kannel user guide, "Sending SMS" / "SMS service configurations").

Kannel replaces every non-GSM character with '?' unless sendsms gets ``coding=2`` and a
charset, so UCS-2 text is always sent that way. Left to split a long message itself,
Kannel asks the SMSC for a delivery report on the first part only; so Loa splits the
message, and sends every part with its own concatenation UDH (sendsms ``udh``) and its
own dlr-url: each part is confirmed on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx

from gateway.pacing import Pacer
from gateway.sms.transport import Mo, MoHandler, OnWire, OutPart, Receipt, ReceiptHandler, SubmitResult

# dlr-mask bits: 1 delivered to phone, 2 not delivered to phone, 4 queued on SMSC,
# 8 delivered to SMSC (ACK), 16 not delivered to SMSC (NACK).
DLR_MASK = 1 | 2 | 8 | 16
DLR_FINAL = {1: "delivered", 2: "failed", 16: "failed"}


def callback_key(secret_key: str) -> str:
    """The shared key Kannel puts in our callback URLs, derived from the gateway's secret."""
    return hashlib.sha256(("sms-callback:" + secret_key).encode()).hexdigest()[:32]


def key_matches(given: str, expected: str) -> bool:
    """The callback's ``key`` against ours, in constant time; bytes, because
    ``hmac.compare_digest`` refuses text that is not ASCII (a 500 to anyone who sent 'é')."""
    return bool(expected) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def parse_dlr(query: Mapping[str, str]) -> Receipt:
    """A dlr-url call: ``type`` (%d, the DLR bits), ``answer`` (%A), ``ref`` (ours)."""
    kind = query.get("type", "")
    outcome = DLR_FINAL.get(int(kind), "pending") if kind.isascii() and kind.isdigit() and len(kind) <= 9 else "pending"
    detail = f"Kannel DLR {kind[:20]}: {query.get('answer', '')}"
    return Receipt(outcome, detail[:300], reference=query.get("ref", "")[:200])


def parse_mo(query: Mapping[str, str]) -> Mo:
    """A get-url call of the sms-service: ``from`` (%p) and ``text`` (%a)."""
    return Mo(query.get("from", ""), query.get("text", ""), "kannel")


@dataclass(frozen=True)
class KannelConfig:
    sendsms_url: str  # http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password: str
    sender: str = ""  # brandname or short code; Kannel's global-sender when empty
    callback_base: str = ""  # our URL as Kannel reaches it, e.g. http://127.0.0.1:8080
    callback_key: str = ""  # shared secret added to our callback URLs


class KannelTransport:
    """MO and reports arrive over HTTP (gateway.api.sms_callbacks), not through ``start``."""

    name = "kannel"

    def __init__(self, config: KannelConfig, client: httpx.AsyncClient | None = None, tps: float = 0.0) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(timeout=10)
        self.window = 4  # concurrent sendsms requests; smsbox queues the rest itself
        self._requests = asyncio.Semaphore(self.window)
        self.pacer = Pacer(tps)
        self.last_error = ""

    async def start(self, on_mo: MoHandler, on_receipt: ReceiptHandler) -> None:
        return None

    def dlr_url(self, reference: str) -> str:
        base = self.config.callback_base.rstrip("/")
        # %d DLR type, %A SMSC answer, %F SMSC message id: expanded by Kannel.
        key = quote(self.config.callback_key)
        return f"{base}/sms/kannel/dlr?ref={quote(reference)}&key={key}&type=%d&answer=%A&smsc_id=%F"

    async def submit(self, part: OutPart, on_wire: OnWire | None = None) -> SubmitResult:
        wire = part.part
        params = {
            "username": self.config.username,
            "password": self.config.password,
            "to": part.to.lstrip("+"),
            "text": wire.text,
            "charset": "UTF-8",
            "coding": "2" if wire.data_coding == 8 else "0",
        }
        if self.config.callback_base:  # reports need a URL Kannel can call
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = self.dlr_url(part.reference)
        if self.config.sender:
            params["from"] = self.config.sender
        query = urlencode(params, quote_via=quote)
        if wire.udh:  # octets, percent-encoded one by one (not as UTF-8 text)
            query += "&udh=" + quote(wire.udh, safe="")
        async with self._requests:  # at most ``window`` parts marked and not answered
            await self.pacer.wait()
            if on_wire is not None:  # one sendsms request per part: marked just before it
                await on_wire()
            try:
                response = await self.client.get(f"{self.config.sendsms_url}?{query}")
            except httpx.HTTPError as exc:
                self.last_error = f"không kết nối được Kannel: {exc}"
                return SubmitResult(False, True, self.last_error)
        self.last_error = ""
        body = response.text.strip()
        if response.status_code == 202 or body.startswith(("0:", "3:")):
            return SubmitResult(True, False, f"Kannel: {body}"[:200])
        return SubmitResult(False, response.status_code >= 500, f"Kannel {response.status_code}: {body}"[:300])

    def status(self) -> dict[str, object]:
        """Kannel keeps the SMSC link; Loa only knows whether its last sendsms got through."""
        return {"connected": not self.last_error, "last_error": self.last_error}

    async def close(self) -> None:
        await self.client.aclose()
