"""Hub sign-in: users, Argon2 hashes, sessions that expire, roles, CSRF, the users CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from bot.db.engine import make_engine
from bot.db.schema import hub_sessions, users
from bot.hub import HubSettings, serve
from bot.hub.accounts import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, AccountError, Accounts, User
from bot.settings import ROOT
from tests.fakes.clock import Clock

PASSWORD = "a long enough test password"


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 23, 9, 0))


@pytest.fixture
def accounts(journey_engine, clock):
    return Accounts(journey_engine, now=clock)


def test_passwords_are_stored_as_argon2id_hashes_only(accounts, engine):
    accounts.add("ana", PASSWORD, "agent", "Ana")
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_authenticate_takes_the_right_password_of_an_enabled_user_only(accounts):
    ana = accounts.add("ana", PASSWORD, "agent", "Ana")
    assert accounts.authenticate("ana", PASSWORD) == ana
    assert accounts.authenticate("ana", PASSWORD + "x") is None
    assert accounts.authenticate("nobody", PASSWORD) is None
    assert accounts.authenticate("", "") is None
    accounts.disable("ana")
    assert accounts.authenticate("ana", PASSWORD) is None


@pytest.mark.parametrize(
    "username, password, role, department, problem",
    [
        ("ana", "short", "agent", None, "at least 10"),
        ("a b", PASSWORD, "agent", None, "without spaces"),
        ("ana", PASSWORD, "boss", None, "unknown role"),
        ("bill", PASSWORD, "department", None, "--department"),
    ],
)
def test_bad_users_are_refused_with_the_reason(
    accounts, username, password, role, department, problem
):
    with pytest.raises(AccountError, match=problem):
        accounts.add(username, password, role, department=department)


def test_a_username_is_taken_once(accounts):
    accounts.add("ana", PASSWORD, "agent")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("ana", PASSWORD, "admin")


def test_a_session_ends_when_idle_after_its_absolute_limit_or_at_sign_out(accounts, clock, engine):
    ana = accounts.add("ana", PASSWORD, "agent")
    token, session = accounts.sign_in(ana)
    assert accounts.session(token).user == ana
    with engine.connect() as conn:  # only a hash of the cookie's token is kept
        assert conn.execute(select(hub_sessions.c.token_hash)).scalar_one() != token

    clock.now += IDLE_TIMEOUT + timedelta(seconds=1)
    assert accounts.session(token) is None

    token, _ = accounts.sign_in(ana)
    while clock.now < datetime(2026, 11, 23, 9, 0) + IDLE_TIMEOUT + ABSOLUTE_TIMEOUT:
        clock.now += IDLE_TIMEOUT - timedelta(minutes=5)  # in use all day...
        if accounts.session(token) is None:
            break
    assert accounts.session(token) is None  # ...still ends after the absolute limit

    token, _ = accounts.sign_in(ana)
    accounts.sign_out(token)
    assert accounts.session(token) is None
    assert accounts.session(None) is None and accounts.session("made-up") is None


def test_a_new_password_or_disabling_ends_every_session(accounts):
    ana = accounts.add("ana", PASSWORD, "agent")
    first, _ = accounts.sign_in(ana)
    accounts.set_password("ana", PASSWORD + "2")
    assert accounts.session(first) is None
    second, _ = accounts.sign_in(ana)
    accounts.disable("ana")
    assert accounts.session(second) is None


def test_roles_open_only_their_areas():
    agent = User(1, "ana", "Ana", "agent")
    billing = User(2, "bill", "Bill", "department", "billing")
    analyst = User(3, "cy", "Cy", "analyst")
    admin = User(4, "root", "Root", "admin")
    assert agent.may_open("console") and not agent.may_open("review")
    assert not agent.may_open("department", "billing")
    assert billing.may_open("department", "billing")
    assert not billing.may_open("department", "delivery") and not billing.may_open("console")
    assert analyst.may_open("review") and not analyst.may_open("console")
    assert all(admin.may_open(a, "delivery") for a in ("console", "department", "review", "users"))
    assert not agent.may_open("users")
    assert (agent.home, billing.home, analyst.home) == (
        "/console",
        "/departments/billing",
        "/review",
    )


# -- through HTTP ------------------------------------------------------------------------------
@pytest.fixture
def hub(tmp_path):
    settings = HubSettings(journey_url=f"sqlite:///{tmp_path / 'journey.db'}")
    server = serve(settings, port=0)
    engine = make_engine(settings.journey_url)
    Accounts(engine).add("bill", PASSWORD, "department", "Bill", department="billing")
    yield server.url
    server.stop()
    engine.dispose()


def login(url: str, password: str = PASSWORD, **form) -> requests.Response:
    return requests.post(
        f"{url}/login",
        data={"username": "bill", "password": password, **form},
        allow_redirects=False,
        timeout=10,
    )


def test_signing_in_sets_an_httponly_samesite_cookie_and_goes_home(hub):
    r = login(hub)
    assert r.status_code == 303 and r.headers["location"] == "/departments/billing"
    cookie = r.headers["set-cookie"]
    assert "cx_hub_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_wrong_password_shows_the_form_again_and_sets_no_cookie(hub):
    r = login(hub, password="not the password")
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "target, lands",
    [
        ("/departments/billing?x=1", "/departments/billing?x=1"),
        ("https://evil.example/", "/departments/billing"),
        ("//evil.example/", "/departments/billing"),
        ("/\\evil.example", "/departments/billing"),
    ],
)
def test_after_sign_in_only_paths_of_this_hub_are_followed(hub, target, lands):
    assert login(hub, next=target).headers["location"] == lands


def test_sign_in_posted_from_another_site_is_refused(hub):
    r = requests.post(
        f"{hub}/login",
        data={"username": "bill", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_apis_answer_401_and_pages_redirect_without_a_session(hub):
    assert requests.get(f"{hub}/api/session", timeout=10).status_code == 401
    r = requests.get(f"{hub}/departments/billing", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_sign_out_needs_the_csrf_token_and_ends_the_session(hub):
    browser = requests.Session()
    browser.post(f"{hub}/login", data={"username": "bill", "password": PASSWORD}, timeout=10)
    me = browser.get(f"{hub}/api/session", timeout=10).json()
    assert (me["username"], me["role"], me["department"]) == ("bill", "department", "billing")

    refused = browser.post(f"{hub}/logout", allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    assert browser.get(f"{hub}/api/session", timeout=10).status_code == 200

    done = browser.post(
        f"{hub}/logout", data={"csrf_token": me["csrf_token"]}, allow_redirects=False, timeout=10
    )
    assert done.status_code == 303
    assert browser.get(f"{hub}/api/session", timeout=10).status_code == 401


def test_the_users_cli_adds_lists_and_disables(tmp_path):
    env = {"CX_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def cli(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "bot", "users", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )

    added = cli(
        "add", "ana", "--role", "agent", "--name", "Ana", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stderr
    assert "/login" in added.stdout
    short = cli("add", "bob", "--role", "agent", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 10" in short.stderr
    unknown = cli(
        "add",
        "bill",
        "--role",
        "department",
        "--department",
        "marketing",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert unknown.returncode == 1 and "no department" in unknown.stderr
    assert "ana" in cli("list").stdout and "bob" not in cli("list").stdout
    assert cli("disable", "ana").returncode == 0
    assert "disabled" in cli("list").stdout
    accounts = Accounts(make_engine(f"sqlite:///{tmp_path / 'journey.db'}"))
    assert accounts.authenticate("ana", PASSWORD) is None
