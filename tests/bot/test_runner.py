import pytest
import yaml
from sqlalchemy import text

from bot.child_process import free_port, wait_ready
from bot.db.engine import make_engine
from bot.hub.accounts import Accounts
from bot.identity.mail import CodeMailer, read_codes
from bot.local_setup import ensure_first_user, ensure_secrets, prepare_databases, read_secrets
from bot.processes import processes
from bot.rasa.endpoints import endpoints_file
from bot.runner import codes_line
from bot.settings import ROOT, Settings


def settings(tmp_path, **env):
    return Settings.from_env({"CX_VAR_DIR": str(tmp_path), **env})


def test_secrets_are_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("CX_RASA_TOKEN", raising=False)
    first, path = ensure_secrets(settings(tmp_path))
    second, _ = ensure_secrets(settings(tmp_path))
    assert len(first.rasa_token) >= 24 and first.rasa_token == second.rasa_token
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # The environment as Settings.from_env reads it (as bot/__main__.py does for `make run`).
    from_the_environment = settings(tmp_path, CX_RASA_TOKEN="from-the-environment")
    assert ensure_secrets(from_the_environment)[0].rasa_token == "from-the-environment"
    # One webhook signing secret per department, handed to the children; the environment wins.
    text = path.read_text()
    for name in ("SALES", "BILLING", "DELIVERY", "SUPPORT"):
        assert f"CX_WEBHOOK_SECRET_{name}=" in text
    monkeypatch.setenv("CX_WEBHOOK_SECRET_BILLING", "set-by-the-operator")
    hub = processes(first)[2]
    assert hub.env["CX_WEBHOOK_SECRET_BILLING"] == "set-by-the-operator"
    assert hub.env["CX_WEBHOOK_SECRET_SALES"] in text


def test_endpoints_follow_the_configured_ports_and_var_dir(tmp_path):
    s = settings(tmp_path, CX_ACTION_PORT="6055")
    data = yaml.safe_load(endpoints_file(s).read_text())
    assert data["action_endpoint"]["url"] == "http://127.0.0.1:6055/webhook"
    # Rasa expands the placeholder from its environment; the secret is not written here.
    assert data["action_endpoint"]["headers"] == {"X-CX-Action-Secret": "${CX_ACTION_SECRET}"}
    assert data["tracker_store"]["db"] == str(tmp_path / "tracker.db")


def test_a_tracker_url_puts_rasas_tracker_store_there(tmp_path):
    url = "postgresql://cx:s3cret@db.internal:5433/tracker?sslmode=require"
    s = settings(tmp_path, CX_TRACKER_URL=url)
    data = yaml.safe_load(endpoints_file(s).read_text())
    assert data["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "db.internal",
        "port": 5433,
        "db": "tracker",
        "username": "cx",
        "password": "s3cret",
        "query": {"sslmode": "require"},
    }
    # The children (erasure, retention) reach the same store.
    assert all(p.env["CX_TRACKER_URL"] == url for p in processes(s))
    sqlite = settings(tmp_path, CX_TRACKER_URL=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert yaml.safe_load(endpoints_file(sqlite).read_text())["tracker_store"] == {
        "type": "bot.rasa.tracker_store.SQLiteTrackerStore",
        "dialect": "sqlite",
        "db": str(tmp_path / "elsewhere.db"),
    }


def test_every_process_binds_to_loopback_by_default(tmp_path):
    s, _ = ensure_secrets(settings(tmp_path))
    actions, rasa, hub, dispatcher, catcher = processes(s)
    assert hub.env["CX_HOST"] == "127.0.0.1" and hub.ready_url == "http://127.0.0.1:8000/health"
    assert dispatcher.argv[-2:] == ["bot", "dispatch"]
    assert actions.env["SANIC_HOST"] == "127.0.0.1"
    assert rasa.argv[rasa.argv.index("--interface") + 1] == "127.0.0.1"
    assert "--enable-api" in rasa.argv and f"--auth-token={s.rasa_token}" in rasa.argv
    assert catcher.ready_url == "smtp://127.0.0.1:8025"  # it binds 127.0.0.1 only, always


def test_bad_ports_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="CX_RASA_PORT='abc' is not a port number"):
        settings(tmp_path, CX_RASA_PORT="abc")
    with pytest.raises(ValueError, match="outside 1-65535"):
        settings(tmp_path, CX_ACTION_PORT="70000")


def test_the_first_run_creates_an_admin_whose_password_is_in_the_secrets_file(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("CX_HUB_ADMIN_PASSWORD", raising=False)
    s, path = ensure_secrets(settings(tmp_path))
    prepare_databases(s)
    assert ensure_first_user(s) == "admin"
    password = read_secrets(path)["CX_HUB_ADMIN_PASSWORD"]
    accounts = Accounts(make_engine(s.journey_url))
    assert accounts.authenticate("admin", password).role == "admin"
    assert ensure_first_user(s) is None  # once any user exists, nothing more is created
    assert [u.username for u, _ in accounts.all()] == ["admin"]
    # The widget's token secret is generated with the others.
    assert len(read_secrets(path)["CX_WIDGET_SECRET"]) >= 32


def test_the_demo_back_office_is_seeded_once_before_any_process_starts(tmp_path):
    # The action server and the hub each seeded a new back office on start-up and, starting
    # together, dropped each other's tables ("no such table: plans"): it is seeded here first.
    s, _ = ensure_secrets(settings(tmp_path))
    prepare_databases(s)
    backoffice = make_engine(s.backoffice_url)
    with backoffice.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM plans")).scalar() > 0
        conn.execute(text("UPDATE plans SET summary = 'kept'"))
    prepare_databases(s)  # again: what is there stays
    with backoffice.connect() as conn:
        assert {r[0] for r in conn.execute(text("SELECT summary FROM plans"))} == {"kept"}


# --- where one-time verification codes go ------------------------------------------------------


def test_without_a_mail_server_the_local_mail_catcher_starts_and_gets_the_codes(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CX_SMTP_PASSWORD", "a-real-servers-password")
    s = settings(tmp_path, CX_MAIL_PORT="8125")
    procs = processes(s)
    [catcher] = [p for p in procs if p.name == "mail catcher"]
    assert catcher.argv[-6:] == [
        "bot",
        "mailcatcher",
        "--port",
        "8125",
        "--dir",
        str(tmp_path / "mail"),
    ]
    assert catcher.ready_url == "smtp://127.0.0.1:8125"
    assert catcher.log == tmp_path / "logs" / "mailcatcher.log"
    for proc in procs:
        assert proc.env["CX_SMTP_URL"] == "smtp://127.0.0.1:8125"
        assert "CX_SMTP_PASSWORD" not in proc.env  # a real server's, never the catcher's
    assert codes_line(Settings.from_env({})) == (
        "Verification codes emailed to customers: var/mail/ (local mail catcher on "
        "127.0.0.1:8025; set CX_SMTP_URL to use a real mail server)"
    )


def test_a_configured_mail_server_is_passed_through_and_no_catcher_starts(tmp_path, monkeypatch):
    url = "smtp+starttls://bot@mail.example.com:587"
    monkeypatch.setenv("CX_SMTP_PASSWORD", "the-servers-password")
    s = settings(tmp_path, CX_SMTP_URL=url, CX_MAIL_FROM="help@shop.example")
    procs = processes(s)
    assert "mail catcher" not in [p.name for p in procs]
    for proc in procs:
        assert proc.env["CX_SMTP_URL"] == url
        assert proc.env["CX_SMTP_PASSWORD"] == "the-servers-password"
        assert proc.env["CX_MAIL_FROM"] == "help@shop.example"
    line = codes_line(settings(tmp_path, CX_SMTP_URL="smtp://bot:pw-123@mail.example.com:25"))
    assert "smtp://mail.example.com:25" in line and "pw-123" not in line


def test_the_mail_catcher_process_is_ready_by_its_check_and_keeps_the_codes(tmp_path):
    s = settings(tmp_path, CX_MAIL_PORT=str(free_port("127.0.0.1")))
    [catcher] = [p for p in processes(s) if p.name == "mail catcher"]
    assert not catcher.ready()  # nothing listens yet
    catcher.start(ROOT)
    try:
        wait_ready([catcher], timeout=60)
        assert catcher.ready()
        # The children's own view of the settings sends to it.
        mailer = CodeMailer.from_settings(Settings.from_env(catcher.env))
        mailer.send_code("jane.doe@example.com", "112358", 10, name="Jane")
        assert read_codes(tmp_path / "mail", "jane.doe@example.com") == ["112358"]
    finally:
        catcher.stop()
    assert not catcher.alive()
    log = catcher.log.read_text()
    assert "jane.doe@example.com" in log and "112358" not in log
