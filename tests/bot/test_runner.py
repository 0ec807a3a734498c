import pytest
import yaml

from bot.db import make_engine
from bot.hub.accounts import Accounts
from bot.runner import (
    endpoints_file,
    ensure_first_user,
    ensure_secrets,
    prepare_databases,
    processes,
    read_secrets,
)
from bot.settings import Settings


def settings(tmp_path, **env):
    return Settings.from_env({"CX_VAR_DIR": str(tmp_path), **env})


def test_secrets_are_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("CX_RASA_TOKEN", raising=False)
    first, path = ensure_secrets(settings(tmp_path))
    second, _ = ensure_secrets(settings(tmp_path))
    assert len(first.rasa_token) >= 24 and first.rasa_token == second.rasa_token
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("CX_RASA_TOKEN", "from-the-environment")
    assert ensure_secrets(settings(tmp_path))[0].rasa_token == "from-the-environment"
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
        "type": "SQL",
        "dialect": "sqlite",
        "db": str(tmp_path / "elsewhere.db"),
    }


def test_every_process_binds_to_loopback_by_default(tmp_path):
    s, _ = ensure_secrets(settings(tmp_path))
    actions, rasa, hub, dispatcher = processes(s)
    assert hub.env["CX_HOST"] == "127.0.0.1" and hub.ready_url == "http://127.0.0.1:8000/health"
    assert dispatcher.argv[-2:] == ["bot", "dispatch"]
    assert actions.env["SANIC_HOST"] == "127.0.0.1"
    assert rasa.argv[rasa.argv.index("--interface") + 1] == "127.0.0.1"
    assert "--enable-api" in rasa.argv and f"--auth-token={s.rasa_token}" in rasa.argv


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
