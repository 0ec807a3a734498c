"""A real hub (in this process, on a free port) over a fresh journey database, for the CX
review pages: SQLite, and PostgreSQL when TEST_POSTGRES_URL is set; a fake Rasa HTTP API on a
real socket for transcripts; users signed in through the login form."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from tests.bot.hub.test_hub import PASSWORD, sign_in
from tests.conftest import DATABASES, scratch_journey_url
from tests.fakes.clock import WEDNESDAY_10AM
from tests.fakes.rasa import FakeRasa


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
    tmp = tmp_path_factory.mktemp("review")
    clock = Clock()
    with scratch_journey_url(request.param, tmp, schema) as url, FakeRasa(clock=clock) as rasa:
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
