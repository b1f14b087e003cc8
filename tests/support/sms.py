"""What an SMS transport hands the gateway, recorded for tests: residents' messages and
receipts. ``fail`` makes the handler refuse, as a gateway whose database is down does."""

from __future__ import annotations

from gateway.sms.transport import Mo, Receipt


class Inbox:
    def __init__(self) -> None:
        self.mo: list[Mo] = []
        self.receipts: list[Receipt] = []
        self.fail = False

    async def on_mo(self, mo: Mo) -> None:
        if self.fail:
            raise RuntimeError("database unavailable")
        self.mo.append(mo)

    async def on_receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)
