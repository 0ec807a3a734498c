"""A local mail catcher for development: an SMTP server on 127.0.0.1 that delivers nothing
and saves every message it receives as a ``.eml`` file.

`make run` starts it (``python -m bot mailcatcher``) when ``CX_SMTP_URL`` is not set, so the
one-time verification codes the assistant emails land in var/mail/, where a person opens
them and :func:`bot.identity.mail.read_codes` finds them. It logs one line per message
(its recipients, never its text). Loopback only: it accepts mail from anyone who can reach
it, so it must never listen on another address.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.identity.mail import RECIPIENTS_HEADER

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
log = logging.getLogger(__name__)


class SaveMessages:
    """aiosmtpd handler: each message to one ``.eml`` file, named by its arrival time."""

    def __init__(self, mail_dir: Path):
        self.mail_dir = mail_dir

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        # The envelope first (Bcc recipients are in no header), then the message as sent.
        head = (
            f"X-MailFrom: {envelope.mail_from}\r\n"
            f"{RECIPIENTS_HEADER}: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("utf-8", "replace")
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.eml"
        path = self.mail_dir / name
        temporary = self.mail_dir / f".{name}.part"  # never read half-written
        temporary.write_bytes(head + envelope.original_content)
        os.replace(temporary, path)
        log.info("mail for %s saved as %s", ", ".join(envelope.rcpt_tos), path)
        return "250 Message accepted for delivery"


class MailCatcher:
    """The catcher on ``127.0.0.1:port``, saving into ``mail_dir`` (created if missing).

    ``start()`` returns once it accepts connections and raises ``OSError`` at once when it
    cannot listen (the port is taken); port 0 takes a free one (see ``address``).
    ``stop()`` closes it. Also a context manager.
    """

    def __init__(self, mail_dir: Path, port: int = 8025):
        self.mail_dir = Path(mail_dir)
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> MailCatcher:
        from aiosmtpd.controller import Controller

        class OnSocket(Controller):
            """aiosmtpd's controller serving a socket bound beforehand."""

            def _create_server(self):
                return self.loop.create_server(self._factory_invoker, sock=listening)

        self.mail_dir.mkdir(parents=True, exist_ok=True)
        # Bound here, so a taken port fails now (aiosmtpd would wait out its ready timeout).
        listening = socket.create_server((HOST, self.port))
        controller = OnSocket(
            SaveMessages(self.mail_dir),
            hostname=HOST,
            port=listening.getsockname()[1],
            # The name in its greeting; aiosmtpd's default asks DNS for this host's name.
            server_hostname="localhost",
        )
        try:
            controller.start()
        except BaseException:
            listening.close()
            raise
        self._controller = controller
        return self

    @property
    def address(self) -> tuple[str, int]:
        """The address it listens on, as the listening socket reports it."""
        if self._controller is None or self._controller.server is None:
            raise RuntimeError("the mail catcher is not running")
        # aiosmtpd types it as AbstractServer; it is the asyncio.Server create_server made.
        server = self._controller.server
        host, port = server.sockets[0].getsockname()[:2]  # type: ignore[attr-defined]
        return host, port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()


def serve(mail_dir: Path, port: int) -> int:
    """``python -m bot mailcatcher``: catch mail until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # aiosmtpd's own log shows each client's commands, message text included, at DEBUG.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    catcher = MailCatcher(mail_dir, port)
    try:
        catcher.start()
    except OSError as e:
        print(
            f"error: the mail catcher cannot listen on {HOST}:{port} ({e.strerror or e}); "
            "set CX_MAIL_PORT to a free port",
            file=sys.stderr,
        )
        return 1
    log.info("mail catcher on %s:%d, saving messages to %s", HOST, port, catcher.mail_dir)
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        catcher.stop()
    return 0
