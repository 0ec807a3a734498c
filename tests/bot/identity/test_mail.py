"""One-time codes by email (bot/identity/mail.py) through the real local mail catcher
(bot/identity/mailcatcher.py): real sockets, real SMTP, no mocks."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import traceback
from email import policy
from email.parser import BytesParser

import pytest

from bot.child_process import free_port
from bot.identity.mail import TIMEOUT_SECONDS, CodeMailer, MailError, read_codes
from bot.identity.mailcatcher import MailCatcher
from bot.settings import ROOT, Settings

SENDER = "support@shop.example"
PASSWORD = "pw-s3cret-9f2"


@pytest.fixture
def catcher(tmp_path):
    with MailCatcher(tmp_path / "var" / "mail", port=0) as running:  # port 0: a free one
        yield running


def mailer_for(catcher: MailCatcher, **kwargs) -> CodeMailer:
    return CodeMailer(f"smtp://127.0.0.1:{catcher.address[1]}", SENDER, **kwargs)


def saved(catcher: MailCatcher):
    return [
        BytesParser(policy=policy.default).parsebytes(p.read_bytes())
        for p in sorted(catcher.mail_dir.glob("*.eml"))
    ]


def test_a_code_sent_to_the_catcher_is_read_back_oldest_first_per_recipient(catcher):
    mailer = mailer_for(catcher)
    mailer.send_code("jane.doe@example.com", "123456", 10, name="Jane")
    mailer.send_code("omar@example.com", "222333", 10)
    mailer.send_code("jane.doe@example.com", "654321", 1)

    assert read_codes(catcher.mail_dir, "jane.doe@example.com") == ["123456", "654321"]
    assert read_codes(catcher.mail_dir, "Omar@Example.com") == ["222333"]
    assert read_codes(catcher.mail_dir, "li.wei@example.com") == []

    first = saved(catcher)[0]
    assert first["From"] == SENDER and first["To"] == "jane.doe@example.com"
    assert first["Subject"] == "Your verification code"
    assert first.get_content_type() == "text/plain"
    text = " ".join(first.get_content().split())
    assert text == (
        "Hello Jane, Your verification code is 123456. It expires in 10 minutes. If you "
        "didn't ask for it, ignore this email; nobody can see your account without it."
    )
    assert "It expires in 1 minute." in saved(catcher)[2].get_content()


def test_the_catcher_creates_its_folder_and_logs_the_recipient_never_the_text(tmp_path, caplog):
    mail_dir = tmp_path / "not" / "there" / "yet"
    caplog.set_level(logging.INFO, logger="bot.identity.mailcatcher")
    with MailCatcher(mail_dir, port=0) as catcher:
        mailer_for(catcher).send_code("jane.doe@example.com", "481516", 10, name="Jane")
    assert [p.suffix for p in mail_dir.iterdir()] == [".eml"]
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.identity.mailcatcher"]
    # The recipient, or its redaction when the project's log redaction is installed in this
    # process (bot/redaction.py, as on the real servers).
    assert len(lines) == 1
    assert "jane.doe@example.com" in lines[0] or "[email]" in lines[0]
    assert "481516" not in caplog.text and "Jane" not in caplog.text


def test_the_catcher_listens_on_loopback_127_0_0_1_only(catcher):
    host, port = catcher.address
    assert host == "127.0.0.1"
    # Every 127.x address is this machine: one bound to all addresses would answer here.
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.2", port), 2):
        pass


def test_a_port_already_taken_is_a_clear_error_at_once(catcher, tmp_path):
    port = catcher.address[1]
    started = time.monotonic()
    with pytest.raises(OSError):
        MailCatcher(tmp_path / "other", port=port).start()
    assert time.monotonic() - started < 2
    # The command says what to do.
    done = subprocess.run(
        [sys.executable, "-m", "bot", "mailcatcher", "--port", str(port), "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "CX_MAIL_PORT" in done.stderr


def test_a_mail_server_that_is_down_is_a_mail_error_at_once_without_the_password():
    port = free_port("127.0.0.1")  # nothing listens there
    mailer = CodeMailer(f"smtp://bot:{PASSWORD}@127.0.0.1:{port}", SENDER)
    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        mailer.send_code("jane.doe@example.com", "123456", 10)
    assert time.monotonic() - started < TIMEOUT_SECONDS
    assert f"smtp://127.0.0.1:{port}" in str(caught.value) and "refused" in str(caught.value)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))
    assert PASSWORD not in repr(mailer)


def test_a_server_that_never_answers_is_given_up_after_the_timeout():
    assert CodeMailer("smtp://127.0.0.1:25", SENDER).timeout == TIMEOUT_SECONDS == 5
    # Connections are queued by the kernel but never greeted.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        mailer = CodeMailer(f"smtp://bot:{PASSWORD}@127.0.0.1:{port}", SENDER, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(MailError, match=r"no answer within 0\.5 s") as caught:
            mailer.send_code("jane.doe@example.com", "123456", 10)
        assert time.monotonic() - started < 2
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


def test_a_server_that_refuses_to_sign_in_is_a_mail_error_without_the_password(catcher):
    # The catcher offers no sign-in, as a server would refuse one.
    port = catcher.address[1]
    mailer = CodeMailer(f"smtp://bot:{PASSWORD}@127.0.0.1:{port}", SENDER)
    with pytest.raises(MailError) as caught:
        mailer.send_code("jane.doe@example.com", "123456", 10)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))
    assert read_codes(catcher.mail_dir, "jane.doe@example.com") == []


def test_an_address_that_could_add_a_header_is_refused_before_sending(catcher):
    with pytest.raises(MailError, match="not an email address"):
        mailer_for(catcher).send_code("jane@example.com\r\nBcc: eve@example.com", "123456", 10)
    assert list(catcher.mail_dir.glob("*.eml")) == []


def test_the_sender_may_have_a_name(catcher):
    port = catcher.address[1]
    CodeMailer(f"smtp://127.0.0.1:{port}", f"Shop Support <{SENDER}>").send_code(
        "jane.doe@example.com", "123456", 10
    )
    assert saved(catcher)[0]["From"] == f"Shop Support <{SENDER}>"
    with pytest.raises(ValueError, match="CX_MAIL_FROM"):
        CodeMailer(f"smtp://127.0.0.1:{port}", "support")


def test_from_settings_is_none_without_a_mail_server_url():
    assert CodeMailer.from_settings(Settings.from_env({})) is None
    assert CodeMailer.from_settings(Settings.from_env({"CX_SMTP_URL": " "})) is None


def test_from_settings_reads_the_url_the_sender_and_the_password():
    settings = Settings.from_env(
        {
            "CX_SMTP_URL": "smtp+starttls://bot%40shop@mail.example.com:2587",
            "CX_SMTP_PASSWORD": PASSWORD,
            "CX_MAIL_FROM": SENDER,
        }
    )
    mailer = CodeMailer.from_settings(settings)
    assert mailer.server == "smtp+starttls://mail.example.com:2587" and mailer.starttls
    assert mailer.user == "bot@shop" and mailer.sender == SENDER
    assert PASSWORD not in repr(mailer) and PASSWORD not in repr(settings)
    plain = CodeMailer.from_settings(Settings.from_env({"CX_SMTP_URL": "smtp://127.0.0.1:8025"}))
    assert plain.server == "smtp://127.0.0.1:8025" and not plain.starttls and plain.user is None
    assert plain.sender == "support@localhost"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://mail.example.com:25", "is not a mail server URL"),
        (f"smtp://bot:{PASSWORD}@mail.example.com:port", "is not a mail server URL"),
        ("smtp://bot@mail.example.com:587", "no password"),
    ],
)
def test_a_wrong_mail_server_url_is_a_clear_error_without_the_password(url, expected):
    with pytest.raises(ValueError, match=expected) as caught:
        CodeMailer(url, SENDER)
    assert PASSWORD not in str(caught.value)


def test_read_codes_from_a_folder_not_there_is_empty(tmp_path):
    assert read_codes(tmp_path / "mail", "jane.doe@example.com") == []
