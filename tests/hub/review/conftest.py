"""A real hub (in this process, on a free port) over a fresh journey database, for the CX
review pages: SQLite, and PostgreSQL when TEST_POSTGRES_URL is set; a fake Rasa HTTP API on a
real socket for transcripts; users signed in through the login form."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from bot.db import make_engine
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from tests.fakes.clock import WEDNESDAY_10AM
from tests.fakes.rasa import FakeRasa
from tests.hub.test_hub import PASSWORD, sign_in

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_POSTGRES_URL") else [])


class Clock:
    """The hub's clock in unix seconds (as HubSettings and the fake Rasa take it), by hand."""

    def __init__(self):
        self.t = WEDNESDAY_10AM.timestamp()

    def __call__(self) -> float:
        return self.t


@dataclass
class ReviewHub:
    """The running hub, its database, its fake Rasa and its clock."""

    url: str
    engine: Engine
    rasa: FakeRasa
    clock: Clock

    def user(self, role: str, name: str = "Ana", department: str | None = None):
        """A new user with ``role``, signed in: (requests session, CSRF token)."""
        username = f"{role}-{uuid.uuid4().hex[:8]}"
        Accounts(self.engine).add(username, PASSWORD, role, name, department=department)
        return sign_in(self.url, username)

    def post_form(self, session, csrf: str, path: str, **fields):
        """A form posted as the page's browser would (CSRF field, this site's Origin)."""
        return session.post(
            f"{self.url}{path}",
            data={"csrf_token": csrf, **fields},
            headers={"Origin": self.url},
            allow_redirects=False,
            timeout=10,
        )


@pytest.fixture(scope="module", params=DATABASES)
def review_hub(request, tmp_path_factory):
    """One hub per test module and database; tests add their own rows."""
    schema = f"cx_review_{request.module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}"
    url = _journey_url(request.param, tmp_path_factory.mktemp("review"), schema)
    clock = Clock()
    with FakeRasa(clock=clock) as rasa:
        settings = HubSettings(
            journey_url=url, rasa_api_url=rasa.url, rasa_token=rasa.token, clock=clock
        )
        server = serve(settings, port=0)
        engine = make_engine(url)
        try:
            yield ReviewHub(server.url, engine, rasa, clock)
        finally:
            server.stop()
            engine.dispose()
    if request.param == "postgresql":
        admin = make_engine(os.environ["TEST_POSTGRES_URL"])
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def _journey_url(kind: str, tmp, schema: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'journey.db'}"
    admin = make_engine(os.environ["TEST_POSTGRES_URL"])
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    url = make_url(os.environ["TEST_POSTGRES_URL"])
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
