"""One Asterisk server's manager connection: panoramisk's Manager behind a wrapper that
none of its reproduced bugs can bite (reference/telephony.md §1):

- bytes are decoded with an incremental UTF-8 decoder, so a Vietnamese name split across
  two TCP reads arrives whole ("Nguyễn", not "Nguyn");
- every Originate carries an explicit ``Async`` header (without one panoramisk raises
  inside ``data_received`` and drops the connection);
- every action has a timeout, and its entry is removed from the protocol's table;
- a message the library cannot handle is logged, it does not kill the connection, and
  one that never ends is dropped at ``MAX_MESSAGE`` instead of growing without bound;
- after a reconnect, actions that got no answer are sent again as soon as the new login
  succeeds, not only on a ``FullyBooted`` event that an AMI user without ``read=system``
  never receives; an Originate is never sent again blindly (Asterisk may have dialled it):
  its caller gets ``AmiDisconnected`` and checks the channel by its ChannelId instead;
- a keep-alive Ping whose answer does not come closes a half-open connection, and
  reconnecting backs off from 1 s to 30 s.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)
EOL = "\r\n"
BANNER = "Asterisk Call Manager/"
MAX_MESSAGE = 256 * 1024  # far above any real AMI message; a longer one is a broken or hostile peer


class AmiError(Exception):
    """Asterisk answered ``Response: Error``, or the action timed out."""


class AmiDisconnected(AmiError):
    def __init__(self, action: str, answered: bool) -> None:
        super().__init__(f"mất kết nối AMI trong khi chờ {action}")
        self.answered = answered  # Asterisk had acknowledged it before the drop


@dataclass(frozen=True)
class AmiEvent:
    name: str
    headers: dict[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key.lower(), default)


def header_int(value: object) -> int | None:
    """A numeric header (Reason, Cause) as a number; None when absent or not plain ASCII
    digits ("²" passes ``str.isdigit`` and fails ``int``; 5000 digits fail ``int`` too)."""
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _flatten(message: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in message.items():
        out[key.lower()] = value[-1] if isinstance(value, list) else str(value)
    return out


class _Protocol(AMIProtocol):  # type: ignore[misc]
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending_text = ""
        self.version: str | None = None

    def data_received(self, data: bytes) -> None:
        text = self.pending_text + self.decoder.decode(data)
        if self.version is None:
            if EOL not in text and len(text) <= MAX_MESSAGE:
                self.pending_text = text
                return
            first, _, rest = text.partition(EOL)
            if first.startswith(BANNER):
                self.version = first[len(BANNER) :].strip()
                text = rest
            else:
                self.version = ""
        blocks = text.split(EOL + EOL)
        self.pending_text = blocks.pop()
        if len(self.pending_text) > MAX_MESSAGE:  # dropped up to the next blank line
            log.warning("AMI message over %d bytes dropped: %r", MAX_MESSAGE, self.pending_text[:200])
            self.pending_text = ""
        for block in blocks:
            try:
                message = Message.from_line(block.strip())
                if message is not None:
                    self.handle_message(message)
            except Exception:  # one bad message must not cost the connection
                log.exception("AMI message not understood: %r", block[:200])


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with backoff and a hook when the connection is lost."""

    def __init__(self, on_lost: Callable[[], None], **config: Any) -> None:
        super().__init__(**config)
        self.on_lost = on_lost
        self.base_delay = float(config["reconnect_timeout"])
        self.reconnect_timeout: float = self.base_delay
        self.stopped = False
        self.login_error = ""

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.stopped:
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        if f.cancelled() or f.exception() is not None:
            self.slower()
        super().connection_made(f)

    def slower(self) -> None:
        self.reconnect_timeout = min(30.0, max(self.base_delay, self.reconnect_timeout * 2))

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        if ok:
            self.reconnect_timeout = self.base_delay
        else:  # Asterisk closes the connection after a failed login; do not hammer it
            self.slower()
            self.login_error = str(future.result().get("Message", "Authentication failed"))
        return ok

    def connection_lost(self, exc: Exception | None) -> None:
        self.authenticated = False
        self.awaiting_actions.clear()  # we decide what is sent again, not FullyBooted
        super().connection_lost(exc)
        self.on_lost()


@dataclass
class ServerConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    secret: str = ""
    channels: int = 10  # this server's (trunk's) budget of simultaneous calls
    dial: str = "PJSIP/{number}@trunk"  # the Channel of an Originate; {number} national, {e164} +84...
    caller_id: str = ""


@dataclass
class _Pending:
    action: Action
    resend: bool  # safe to send again after a reconnect (everything but Originate)
    sent: bool = False


@dataclass
class AmiClient:
    config: ServerConfig
    action_timeout: float = 10.0
    keepalive: float = 15.0
    reconnect_delay: float = 1.0
    manager: _Manager | None = None
    logged_in: asyncio.Event = field(default_factory=asyncio.Event)
    last_error: str = ""
    listeners: list[Callable[[AmiEvent], None]] = field(default_factory=list)
    lost_listeners: list[Callable[[], None]] = field(default_factory=list)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _keepalive_task: asyncio.Task[None] | None = None
    _closed: bool = False

    async def start(self) -> None:
        """Connect in the background; ``wait_ready`` waits for the login."""
        self.manager = _Manager(
            self._lost,
            host=self.config.host,
            port=self.config.port,
            username=self.config.username,
            secret=self.config.secret,
            events="on",
            ping_delay=10**9,  # our keep-alive checks the answer; panoramisk's does not
            ping_interval=10**9,
            reconnect_timeout=self.reconnect_delay,
            protocol_factory=_Protocol,
            loop=asyncio.get_running_loop(),
            on_login=self._login_done,
            on_connect=lambda _m: None,
            on_disconnect=lambda _m, _exc: None,
        )
        self.manager.register_event("*", self._event)
        self.manager.connect()
        self._keepalive_task = asyncio.create_task(self._keep_alive())

    async def wait_ready(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.logged_in.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @property
    def ready(self) -> bool:
        return self.logged_in.is_set()

    async def close(self) -> None:
        self._closed = True
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
        if self.manager is not None:
            self.manager.stopped = True
            self.manager.close()
        for pending in list(self._pending.values()):
            if not pending.action.future.done():
                pending.action.future.set_exception(AmiDisconnected(pending.action["action"], False))
                pending.action.future.exception()  # nobody may be waiting any more
        self._pending.clear()

    # --- actions -------------------------------------------------------------------
    async def action(self, headers: dict[str, Any], wait: float | None = None) -> Message | list[Message]:
        """Send one action and wait for its answer (a list for multi-message answers).
        Raises AmiError on ``Response: Error`` or timeout, AmiDisconnected on a drop."""
        name = str(headers["Action"])
        if name.lower() == "originate":
            headers = dict(headers, Async=_async_value(headers.get("Async", "true")))
        action = Action(headers)
        wait = wait or self.action_timeout
        pending = _Pending(action, resend=name.lower() != "originate")
        self._pending[action.id] = pending
        try:
            if self.ready and self.manager is not None:
                self.manager.protocol.send(action, as_list=None)
                pending.sent = True
            answer = await asyncio.wait_for(asyncio.shield(action.future), wait)
        except TimeoutError:
            raise AmiError(f"Asterisk không trả lời {name} sau {wait:g} giây") from None
        finally:
            self._pending.pop(action.id, None)
            if self.manager is not None and self.manager.protocol is not None:
                self.manager.protocol.responses.pop(action.id, None)
        first = answer[0] if isinstance(answer, list) else answer
        if first.get("Response", "") == "Error":
            raise AmiError(f"{name}: {first.get('Message', 'Error')}")
        return answer

    # --- connection events -----------------------------------------------------------
    def _login_done(self, manager: _Manager) -> None:
        self.last_error = ""
        self.logged_in.set()
        log.info("AMI %s: logged in (Asterisk Call Manager/%s)", self.config.name, manager.protocol.version)
        for pending in self._pending.values():
            action = pending.action
            if action.future.done() or action.responses:
                continue
            if not pending.sent or pending.resend:
                manager.protocol.send(action, as_list=None)
                pending.sent = True

    def _lost(self) -> None:
        was_ready = self.logged_in.is_set()
        self.logged_in.clear()
        if self.manager is not None and self.manager.login_error:
            self.last_error = f"đăng nhập AMI thất bại: {self.manager.login_error} (kiểm tra username/secret)"
            self.manager.login_error = ""
        for key, pending in list(self._pending.items()):
            action = pending.action
            if action.future.done():
                continue
            if not pending.sent or (pending.resend and not action.responses):
                continue  # sent (again) after the next login
            action.future.set_exception(AmiDisconnected(action["action"], bool(action.responses)))
            self._pending.pop(key, None)
        if was_ready and not self._closed:
            log.warning("AMI %s: connection lost, reconnecting", self.config.name)
            for listener in self.lost_listeners:
                listener()

    def _event(self, _manager: _Manager, message: Message) -> None:
        if message.get("Event") == "FullyBooted":
            return
        event = AmiEvent(str(message.get("Event", "")), _flatten(message))
        if event.name == "Shutdown":
            self.logged_in.clear()
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("AMI listener failed on %s", event.name)

    async def _keep_alive(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.keepalive)
            if not self.ready or self.manager is None:
                continue
            try:
                await self.action({"Action": "Ping"}, wait=min(5.0, self.keepalive))
            except AmiError:
                log.warning("AMI %s: no answer to Ping, closing a half-open connection", self.config.name)
                transport = getattr(self.manager.protocol, "transport", None)
                if transport is not None:
                    transport.abort()


def _async_value(value: Any) -> str:
    """panoramisk waits for an OriginateResponse unless Async is exactly 'false'; Asterisk
    reads it with ast_true(). Normalise both ways."""
    text = str(value).strip().lower()
    return "true" if text in ("1", "yes", "y", "t", "true", "on") else "false"
