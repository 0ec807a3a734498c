"""Email a customer their one-time verification code, and read back the codes a local
mail catcher kept.

The mail server is ``CX_SMTP_URL``: ``smtp://[user[:password]@]host:port``, or
``smtp+starttls://...`` to upgrade the connection with STARTTLS before signing in. The
password may instead come from ``CX_SMTP_PASSWORD`` (it wins); it never appears in an
error, a log line or a repr. Without a URL, `make run` points the processes at its local
mail catcher (bot/identity/mailcatcher.py), which saves each message under var/mail/, where
:func:`read_codes` finds the codes.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import textwrap
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.settings import Settings

TIMEOUT_SECONDS = 5.0  # for each step with the server: connect, greeting, each command
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587}
SUBJECT = "Your verification code"
# The first words of the email's text, and how read_codes finds the code in it.
CODE_SENTENCE = "Your verification code is {code}."
CODE_PATTERN = re.compile(r"Your verification code is\s+(\S+?)\.")
# One address, nothing that could start another header (no whitespace, CR or LF).
ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
RECIPIENTS_HEADER = "X-RcptTo"  # the envelope's recipients, as the mail catcher records them


class MailError(Exception):
    """A verification code could not be emailed; the message says why, never the password."""


class CodeMailer:
    """Sends one-time verification codes as short plain-text emails through one SMTP server."""

    def __init__(
        self,
        url: str,
        sender: str,
        *,
        password: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ):
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
            parts = parts._replace(netloc="")  # reported below, without the credentials
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                f"CX_SMTP_URL={_without_credentials(url)!r} is not a mail server URL: use "
                "smtp://[user@]host:port, or smtp+starttls://[user@]host:port for STARTTLS"
            )
        if not ADDRESS.fullmatch(parseaddr(sender)[1]) or "\n" in sender or "\r" in sender:
            raise ValueError(f"CX_MAIL_FROM={sender!r} is not an email address (or Name <address>)")
        self.host = parts.hostname
        self.port = port or DEFAULT_PORTS[parts.scheme]
        self.starttls = parts.scheme == "smtp+starttls"
        self.user = unquote(parts.username) if parts.username else None
        self._password = password or (unquote(parts.password) if parts.password else None)
        if self.user and not self._password:
            raise ValueError(
                f"CX_SMTP_URL names the user {self.user!r} but no password: put it in the URL "
                "or in CX_SMTP_PASSWORD"
            )
        self.sender = sender
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> CodeMailer | None:
        """The mailer ``CX_SMTP_URL`` describes, or None when no mail server is configured."""
        if not settings.smtp_url:
            return None
        return cls(settings.smtp_url, settings.mail_from, password=settings.smtp_password or None)

    @property
    def server(self) -> str:
        """The server as errors name it: scheme, host and port, no credentials."""
        scheme = "smtp+starttls" if self.starttls else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"CodeMailer({self.server!r}, sender={self.sender!r})"

    def compose(
        self, to: str, code: str, minutes_valid: int, name: str | None = None
    ) -> EmailMessage:
        """The email :meth:`send_code` sends: plain text, the code in its first sentence."""
        if not ADDRESS.fullmatch(to):
            raise MailError(f"{to!r} is not an email address")
        if not code or not code.isalnum():
            raise MailError("a verification code is letters and digits only")
        greeting = f"Hello {' '.join(name.split())}," if name and name.strip() else "Hello,"
        minutes = "1 minute" if minutes_valid == 1 else f"{minutes_valid} minutes"
        text = (
            f"{CODE_SENTENCE.format(code=code)} It expires in {minutes}. If you didn't ask "
            "for it, ignore this email; nobody can see your account without it."
        )
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = SUBJECT
        message["Date"] = formatdate(localtime=True)
        # The sender's domain, not socket.getfqdn(), which can wait on DNS.
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2])
        # Lines short enough to travel as 7bit: the .eml file reads as plain text.
        message.set_content(f"{greeting}\n\n{textwrap.fill(text, 72)}\n")
        return message

    def send_code(self, to: str, code: str, minutes_valid: int, name: str | None = None) -> None:
        """Email ``code`` to ``to``; raise :class:`MailError` if the server did not take it."""
        message = self.compose(to, code, minutes_valid, name)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self._password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as e:
            # No chained cause: a server's answer to a failed sign-in could echo credentials.
            raise MailError(
                f"the verification code was not sent through {self.server}: {self._reason(e)}"
            ) from None

    def _reason(self, error: BaseException) -> str:
        if isinstance(error, TimeoutError) or (
            # smtplib turns a timed-out read of an answer into a "disconnected"
            isinstance(error, smtplib.SMTPServerDisconnected) and "timed out" in str(error)
        ):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(error, ConnectionRefusedError):
            reason = "connection refused (is the mail server running?)"
        elif isinstance(error, smtplib.SMTPAuthenticationError):
            reason = f"the server refused the user name or password ({error.smtp_code})"
        elif isinstance(error, smtplib.SMTPRecipientsRefused):
            reason = "the server refused the recipient's address"
        elif isinstance(error, smtplib.SMTPResponseException):
            answer = error.smtp_error
            if isinstance(answer, bytes):
                answer = answer.decode("utf-8", "replace")
            reason = f"the server answered {error.smtp_code} {answer}"
        elif isinstance(error, ssl.SSLError):
            reason = f"TLS failed ({error.reason or error})"
        else:
            reason = str(error) or type(error).__name__
        if self._password:
            reason = reason.replace(self._password, "***")
        return reason


def read_codes(mail_dir: Path, to: str) -> list[str]:
    """The verification codes in the messages the local mail catcher saved for ``to``.

    Oldest first (the catcher names its ``.eml`` files by arrival time); no folder, no codes.
    The address is matched without regard to case, against the envelope's recipients and
    the ``To`` header.
    """
    wanted = to.strip().lower()
    codes: list[str] = []
    for path in sorted(Path(mail_dir).glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        headers = [str(h) for h in message.get_all(RECIPIENTS_HEADER, [])]
        headers += [str(h) for h in message.get_all("To", [])]
        if wanted not in {address.lower() for _, address in getaddresses(headers)}:
            continue
        body = message.get_body(preferencelist=("plain",))
        if body is not None:
            codes += CODE_PATTERN.findall(body.get_content())
    return codes


def _without_credentials(url: str) -> str:
    """``url`` with anything before the host's ``@`` (user and password) left out."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "..." if "@" in url else url
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"
