"""A mailer that keeps the one-time codes it is asked to send (the real one, over SMTP to the
local mail catcher, is tested in tests/bot/identity/test_mail.py and end to end)."""

from __future__ import annotations


class Mailbox:
    """Codes "sent", newest last: (to, code)."""

    def __init__(self, fail: bool = False):
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def send_code(self, to: str, code: str, minutes_valid: int, name: str | None = None) -> None:
        if self.fail:
            raise OSError("mail server down")
        self.sent.append((to, code))

    def last_code(self, to: str) -> str | None:
        return next((code for who, code in reversed(self.sent) if who == to), None)
