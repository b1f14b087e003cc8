"""Run a flow over one FastAGI session, node by node.

The runner speaks AGI and nothing else; what a node needs from the gateway (the latest
bulletins, filing a recording as a case, a case's status, an opt-out) comes through the
small ``Backend`` interface. A caller may hang up at any node: the runner stops there,
and a recording cut by the hangup is still filed (Asterisk keeps the file,
``result=-1 (hangup)``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gateway.ivr.flows import Flow, Node
from gateway.ivr.prompts import Prompts
from gateway.ivr.recordings import RecordingLost, Recordings, SharedRecordings
from gateway.ivr.server import AgiSession, Hangup

log = logging.getLogger(__name__)
MAX_STEPS = 200  # a flow that loops forever (menu -> menu on no input) ends here
RECORDING_LOST = "Xin lỗi, hệ thống không ghi âm được lời nhắn của bạn. Cán bộ xã sẽ gọi lại cho bạn."
RECORDING_CUT = "Xin lỗi, lời nhắn của bạn bị ngắt giữa chừng. Cán bộ xã sẽ nghe phần đã ghi và gọi lại nếu cần."


class Backend(Protocol):
    recordings_dir: Path

    async def caller_area(self, caller: str) -> str | None: ...

    async def area_choices(self) -> list[tuple[str, str]]: ...

    async def latest_bulletins(self, area_code: str | None, count: int) -> list[Path]: ...

    async def file_recording(self, data: bytes, name: str, caller: str, flow: str) -> str: ...

    async def case_status(self, ticket: str) -> str | None: ...

    async def opt_out(self, caller: str) -> None: ...

    async def recording_failed(self, caller: str, flow: str, call: str, why: str) -> None: ...


@dataclass
class CallState:
    caller: str
    uniqueid: str
    bulletin: Path | None = None  # the call's bulletin (outbound)
    variables: dict[str, str] = field(default_factory=dict)
    visited: list[str] = field(default_factory=list)
    bulletin_samples: int = 0  # how much of the call's bulletin was played (8 kHz samples)
    bulletin_complete: bool = False  # counts as heard: to its end, or confirmed by key (the node says)
    confirmed: bool = False  # the listener pressed the node's heard_key during the bulletin
    amd: str = ""  # AMDSTATUS from the dialplan's AMD(): HUMAN, MACHINE, NOTSURE ("" without AMD)
    recordings: list[str] = field(default_factory=list)  # the recordings' names (stem.wav)
    hung_up: bool = False
    peer: str = ""  # the address of the Asterisk that opened the session
    heard: Callable[[CallState], Awaitable[None]] | None = None  # records progress once the bulletin played


class Runner:
    def __init__(
        self, flows: dict[str, Flow], prompts: Prompts, backend: Backend, recordings: Recordings | None = None
    ) -> None:
        self.flows = flows
        self.prompts = prompts
        self.backend = backend
        self.recordings = recordings or SharedRecordings(backend.recordings_dir)

    async def run(self, session: AgiSession, flow: Flow, state: CallState) -> CallState:
        node_name: str | None = flow.start
        state.variables.setdefault("flow", flow.name)
        try:
            await session.send("ANSWER")
            steps = 0
            while node_name and steps < MAX_STEPS:
                steps += 1
                node = flow.nodes[node_name]
                state.visited.append(node.name)
                node_name = await self._node(session, flow, node, state)
                if session.hungup:
                    raise Hangup
        except Hangup:
            state.hung_up = True
        return state

    # --- media helpers ---------------------------------------------------------------
    async def _stream(self, session: AgiSession, path: str, escape: str = "") -> tuple[str, int, bool]:
        """(key pressed, samples played, played at all). Raises Hangup when the caller left."""
        reply = await session.send("STREAM FILE", path, escape)
        if reply.value == -1:
            if not await session.alive():
                raise Hangup
            log.warning("Asterisk could not play %s (missing in the shared sounds directory?)", path)
            return "", 0, False
        return reply.digit, reply.endpos or 0, True

    async def _say(self, session: AgiSession, text: str, escape: str = "") -> str:
        if not text:
            return ""
        key, _, _ = await self._stream(session, await self.prompts.path(text), escape)
        return key

    # --- nodes -------------------------------------------------------------------------
    async def _node(self, session: AgiSession, flow: Flow, node: Node, state: CallState) -> str | None:
        handler = getattr(self, f"_{node.kind}")
        result: str | None = await handler(session, node, state)
        return result

    async def _play(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        if node.bulletin:
            if state.bulletin is None:
                await self._say(session, "Xin lỗi, bản tin hiện chưa sẵn sàng.")
                return node.next
            path = await self.prompts.bulletin(state.bulletin)
            reply = await session.send("STREAM FILE", path, node.heard_key)
            state.bulletin_samples = max(state.bulletin_samples, reply.endpos or 0)  # heard until the hang-up
            if reply.value == -1:
                if not await session.alive():
                    raise Hangup
                return node.next
            key = bool(node.heard_key) and reply.digit == node.heard_key
            state.confirmed = state.confirmed or key
            to_end = not reply.digit  # an escape key stops the playback
            counts = {"end": to_end, "key": key, "end_or_key": to_end or key}[node.heard_when]
            state.bulletin_complete = state.bulletin_complete or counts
            if state.heard is not None:  # before anything else: this process may die any moment
                await state.heard(state)
            return node.next
        await self._say(session, node.text)
        return node.next

    async def _machine(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        """app_amd.c sets AMDSTATUS before the AGI starts: an answering machine gets the short
        message and the call ends; a person (HUMAN, NOTSURE, or no AMD at all) goes on."""
        reply = await session.send("GET VARIABLE", "AMDSTATUS")
        state.amd = reply.data.strip() if reply.value == 1 else ""
        if state.amd != "MACHINE":
            return node.next
        await self._say(session, node.text)
        await session.send("HANGUP")
        return None

    async def _menu(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        keys = "".join(d for d, _ in node.choices)
        for attempt in range(node.retries + 1):
            key = await self._say(session, node.text, keys)
            if not key:
                reply = await session.send("WAIT FOR DIGIT", str(int(node.timeout * 1000)))
                if reply.value == -1:
                    raise Hangup
                key = reply.digit
            target = node.choice(key) if key else None
            if target is not None:
                return target
            if key and attempt < node.retries:
                await self._say(session, node.invalid_text)
        return node.no_input or None

    async def _input(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        prompt = await self.prompts.path(node.text)
        reply = await session.send("GET DATA", prompt, str(int(node.timeout * 1000)), str(node.digits))
        if reply.result == "-1":
            # res_agi.c handle_getdata: -1 also when the prompt could not be played, with the
            # caller still on the line; only the channel says which.
            if not await session.alive():
                raise Hangup
            log.warning("GET DATA on %s: Asterisk could not play %s (not on its disk?)", state.uniqueid, prompt)
        state.variables[node.store] = reply.result if reply.result.isdigit() else ""
        return node.next

    async def _record(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        await self._say(session, node.text)
        stem = "".join(c if c.isalnum() else "-" for c in state.uniqueid or "call")
        stem = f"{stem}-{len(state.recordings) + 1}"
        base = self.recordings.target(stem, state.peer)
        words = ["RECORD FILE", base, "wav", node.finish_key, str(node.max_seconds * 1000), "0"]
        if node.beep:
            words.append("BEEP")
        words.append(f"s={node.silence_seconds}")
        reply = await session.send(*words, wait=node.max_seconds + 30)
        hung_up = reply.value == -1 and "hangup" in reply.data
        # res_agi.c handle_recordfile: "(writefile)" nothing could be written, "(randomerror)"
        # the recording broke off; either way the caller and the operator are told.
        failure = next((why for why in ("writefile", "randomerror") if why in reply.data), "")
        if failure:
            log.error("RECORD FILE failed on %s (%s): %s", state.uniqueid, failure, reply.text)
            await self.backend.recording_failed(state.caller, state.variables["flow"], state.uniqueid, failure)
            await self._say(session, RECORDING_LOST if failure == "writefile" else RECORDING_CUT)
        elif reply.value == -1 and not hung_up:
            log.warning("RECORD FILE failed on %s: %s", state.uniqueid, reply.text)
        try:
            data = await self.recordings.take(stem, "wav", state.peer)
        except RecordingLost as exc:  # on the Asterisk, but Loa could not fetch it: kept there
            log.error("recording %s of %s not fetched: %s", stem, state.uniqueid, exc)
            await self.backend.recording_failed(state.caller, state.variables["flow"], state.uniqueid, str(exc))
            if not hung_up:
                await self._say(session, RECORDING_LOST)
            data = None
        if data is not None and len(data) > 44:
            state.recordings.append(f"{stem}.wav")
            ticket = await self.backend.file_recording(data, f"{stem}.wav", state.caller, state.variables["flow"])
            if ticket:
                state.variables["ticket"] = ticket
        if hung_up:
            raise Hangup
        return node.next

    async def _say_digits(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        digits = state.variables.get(node.value, "")
        if not digits:
            await self._say(session, "Ý kiến của bạn đã được ghi nhận. Mã số sẽ được gửi qua tin nhắn.")
            return node.next
        await self._say(session, node.text)
        for digit in digits:
            await self._stream(session, await self.prompts.digit(digit))
        return node.next

    async def _lookup(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        ticket = state.variables.get(node.value or "ticket", "")
        sentence = await self.backend.case_status(ticket) if ticket else None
        await self._say(session, sentence or node.not_found_text)
        return node.next

    async def _choose_area(self, session: AgiSession, node: Node) -> str | None:
        """For a caller Loa does not know: which village? (0 or no key: the whole commune)."""
        choices = (await self.backend.area_choices())[:9]
        if not choices:
            return None
        menu = ", ".join(f"bấm phím {n} cho {name}" for n, (_, name) in enumerate(choices, 1))
        keys = "".join(str(n) for n in range(len(choices) + 1))
        key = await self._say(session, f"Bạn ở đâu? {menu}. Bấm phím 0 để nghe tin của cả xã.", keys)
        if not key:
            reply = await session.send("WAIT FOR DIGIT", str(int(node.timeout * 1000)))
            if reply.value == -1:
                raise Hangup
            key = reply.digit
        return choices[int(key) - 1][0] if key.isdigit() and 0 < int(key) <= len(choices) else None

    async def _bulletins(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        area = await self.backend.caller_area(state.caller)
        if area is None and node.ask_area:
            area = await self._choose_area(session, node)
        found = await self.backend.latest_bulletins(area, node.count)
        if not found:
            await self._say(session, node.empty_text)
            return node.next
        key = await self._say(session, node.text, "*")
        for artifact in found:
            if key == "*":
                break
            key, _, _ = await self._stream(session, await self.prompts.bulletin(artifact), "2*")
        return node.next

    async def _transfer(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        await self._say(session, node.text)
        app, data = ("Queue", node.target) if node.via == "queue" else ("Dial", f"{node.target},30")
        reply = await session.send("EXEC", app, data)
        if reply.value == -2:
            log.error("Asterisk has no %s application: check conf/asterisk", app)
            await self._say(session, "Xin lỗi, hiện không chuyển được cuộc gọi tới cán bộ.")
        return node.next or None

    async def _optout(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        """Only a second press of ``confirm_key`` opts the number out (a key pressed by
        mistake, or by a child, must not end someone's bulletins); emergencies still come."""
        key = await self._say(session, node.confirm_text, node.confirm_key)
        if not key:
            reply = await session.send("WAIT FOR DIGIT", str(int(node.timeout * 1000)))
            if reply.value == -1:
                raise Hangup
            key = reply.digit
        if key != node.confirm_key:
            await self._say(session, node.kept_text)
            return node.next
        if state.caller:
            await self.backend.opt_out(state.caller)
        await self._say(session, node.text)
        return node.next

    async def _hangup(self, session: AgiSession, node: Node, state: CallState) -> str | None:
        await self._say(session, node.text)
        await session.send("HANGUP")
        return None
