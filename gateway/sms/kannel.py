"""Kannel HTTP transport: MT through smsbox's sendsms, MO and delivery reports through
our callback URLs (Kannel user guide, "Sending SMS" / "SMS service configurations").

Kannel replaces every non-GSM character with '?' unless sendsms gets ``coding=2`` and a
charset, so UCS-2 text is always sent that way. Kannel asks the SMSC for a delivery
report on the first part of a concatenated message only: a report here confirms the
message's first part.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from gateway.sms.encoding import plan

# dlr-mask bits: 1 delivered to phone, 2 not delivered to phone, 4 queued on SMSC,
# 8 delivered to SMSC (ACK), 16 not delivered to SMSC (NACK).
DLR_MASK = 1 | 2 | 8 | 16
DLR_FINAL = {1: "delivered", 2: "failed", 16: "failed"}


def callback_key(secret_key: str) -> str:
    """The shared key Kannel puts in our callback URLs, derived from the gateway's secret."""
    return hashlib.sha256(("sms-callback:" + secret_key).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class KannelConfig:
    sendsms_url: str  # http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password: str
    sender: str = ""  # brandname or short code; Kannel's global-sender when empty
    callback_base: str = ""  # our URL as Kannel reaches it, e.g. http://127.0.0.1:8080
    callback_key: str = ""  # shared secret added to our callback URLs


@dataclass(frozen=True)
class SubmitResult:
    accepted: bool
    temporary: bool  # 503 or a network error: try again later
    detail: str
    parts: int


class KannelTransport:
    name = "kannel"

    def __init__(self, config: KannelConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(timeout=10)

    def dlr_url(self, reference: str) -> str:
        base = self.config.callback_base.rstrip("/")
        # %d DLR type, %A SMSC answer, %F SMSC message id: expanded by Kannel.
        key = quote(self.config.callback_key)
        return f"{base}/sms/kannel/dlr?ref={quote(reference)}&key={key}&type=%d&answer=%A&smsc_id=%F"

    async def send(self, to: str, text: str, reference: str) -> SubmitResult:
        message = plan(text)
        params = {
            "username": self.config.username,
            "password": self.config.password,
            "to": to.lstrip("+"),
            "text": message.text,
            "charset": "UTF-8",
            "coding": "2" if message.encoding == "ucs2" else "0",
        }
        if self.config.callback_base:  # reports need a URL Kannel can call
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = self.dlr_url(reference)
        if self.config.sender:
            params["from"] = self.config.sender
        try:
            response = await self.client.get(self.config.sendsms_url, params=params)
        except httpx.HTTPError as exc:
            return SubmitResult(False, True, f"không kết nối được Kannel: {exc}", message.count)
        body = response.text.strip()
        if response.status_code == 202 or body.startswith(("0:", "3:")):
            return SubmitResult(True, False, body, message.count)
        return SubmitResult(False, response.status_code >= 500, f"Kannel {response.status_code}: {body}", message.count)

    async def close(self) -> None:
        await self.client.aclose()
