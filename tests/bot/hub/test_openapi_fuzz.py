"""The hub's API fuzzed from its own OpenAPI document with schemathesis.

A real hub serves on a free port (in this process, over a fresh journey database: SQLite,
and PostgreSQL too when TEST_POSTGRES_URL is set; a fake Rasa HTTP API on a real socket for
the console); the schema is loaded from its ``/api/openapi.json``. For every operation schemathesis generates requests from the document,
valid ones and (with a second pass) invalid ones, and sends them over HTTP as the role the
operation is for: agents to the console API, analysts to CX review, an admin to the
department pages, department secrets for the signed API. Every answer must be no 5xx, a
documented status code, the documented content type, and match the documented schema.

A second test sends each API operation without a session or signature: 401 or 403, never
200 nor a 5xx.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine
from bot.db.schema import handoffs, journey_customers, touchpoints
from bot.handoff.signing import signature_headers
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from bot.hub.auth import CSRF_HEADER
from bot.hub.openapi import document
from bot.hub.web import MAX_ID
from tests.bot.hub.test_hub import DEPARTMENTS, PASSWORD, sign_in
from tests.conftest import DATABASES, scratch_journey_url
from tests.fakes.rasa import FakeRasa

# Every department signs (tests/bot/hub/test_hub.py covers the one without a secret).
SECRETS = {name: f"fuzz-secret-{name}" for name in DEPARTMENTS}

# Examples per operation and generation mode: 53 operations x 2 modes took 45-70 s here for
# SQLite and PostgreSQL together (half that on SQLite alone).
MAX_EXAMPLES = 6
# Valid requests must conform in every way; for invalid ones the hub only owes no 5xx and
# a status code it documents (a 4xx it names), answered in the documented content type.
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
# Operations that need no sign-in or signature: the hub's own description and liveness, the
# routing map (a public contract), sign-in itself, the widget's files and the demo page.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/routing"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/widget.js"),
    ("GET", "/widget/socket.io.min.js"),
    ("GET", "/demo"),
}
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in document(sorted(DEPARTMENTS))["paths"].items()
    for method in item
    if method != "parameters"
)


@dataclass
class FuzzHub:
    """The running hub, its database, its schema as served, and one signed-in user per role."""

    url: str
    engine: Engine
    schema: schemathesis.BaseSchema
    browsers: dict[str, tuple[requests.Session, str]] = field(default_factory=dict)

    def browser(self, role: str) -> tuple[requests.Session, str]:
        """A session signed in as a new user with ``role`` (kept for the module)."""
        if role not in self.browsers:
            username = f"fuzz-{role}-{uuid.uuid4().hex[:8]}"
            Accounts(self.engine).add(username, PASSWORD, role, "Fuzz")
            self.browsers[role] = sign_in(self.url, username)
        return self.browsers[role]

    def department_of(self, handoff_id: int) -> str:
        """The department whose secret signs requests about ``handoff_id`` (billing if none)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).one_or_none()
        return row.department if row is not None else "billing"


# One database: PostgreSQL when CI gives one (its 32-bit keys and NUL-free text are where the
# fuzzing found 500s), else SQLite. Both cost CI 1.5 minutes for little more.
@pytest.fixture(scope="module", params=DATABASES[-1:])
def fuzz_hub(request, tmp_path_factory) -> Iterator[FuzzHub]:
    """A hub on a free port with handoffs and touchpoints to find, and its served schema."""
    tmp = tmp_path_factory.mktemp("fuzz")
    schema_name = f"cx_fuzz_{os.getpid()}"
    with scratch_journey_url(request.param, tmp, schema_name) as url, FakeRasa() as rasa:
        hub_settings = HubSettings(
            journey_url=url,
            rasa_api_url=rasa.url,
            rasa_token=rasa.token,
            secrets={DEPARTMENTS[n].secret_env: s for n, s in SECRETS.items()},
        )
        server = serve(hub_settings, port=0)
        engine = make_engine(url)
        try:
            schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json", timeout=10)
            hub = FuzzHub(server.url, engine, schema)
            _seed(engine)
            yield hub
        finally:
            server.stop()
            engine.dispose()


def _seed(engine: Engine) -> None:
    """Handoffs in every department and touchpoints, so small generated ids find real rows."""
    now = datetime.now()
    with engine.begin() as conn:
        conn.execute(
            insert(journey_customers).values(id="C001", created_at=now, name="Jane", tier="gold")
        )
        for i, department in enumerate(sorted(DEPARTMENTS) * 2):
            conversation = f"conv-{i}"
            conn.execute(
                insert(touchpoints).values(
                    conversation_id=conversation,
                    session_started_at=now - timedelta(hours=i),
                    channel="rest",
                    outcome="handed_off",
                    started_at=now - timedelta(hours=i),
                    last_activity_at=now - timedelta(hours=i),
                    customer_id="C001" if i % 2 else None,
                    departments=json.dumps([department]),
                    needs=json.dumps(["charged_twice"]),
                )
            )
            conn.execute(
                insert(handoffs).values(
                    created_at=now - timedelta(hours=i),
                    department=department,
                    need="charged_twice",
                    conversation_id=conversation,
                    customer_id="C001",
                    channel="rest",
                    priority="high",
                    summary="Charged twice",
                    context=json.dumps({"customer": {"id": "C001"}}),
                    status="open",
                )
            )


def _role_for(path: str) -> str | None:
    """The role a signed-in caller of ``path`` needs (None: signed by a department, or public)."""
    if path.startswith(("/api/console", "/console")):
        return "agent"
    if path.startswith(("/api/review", "/review")):
        return "analyst"
    if path.startswith("/departments/"):
        return "admin"  # any department's inbox, whichever {name} is generated
    if path in ("/", "/logout", "/api/session"):
        return "agent"
    return None


def _send(hub: FuzzHub, case, signed_out: bool = False) -> requests.Response:
    """Send ``case`` as the right caller would: session + CSRF token, or a department's signature."""
    kwargs = case.as_transport_kwargs(base_url=hub.url)
    request = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        data=kwargs.get("data"),
        json=kwargs.get("json"),
        files=kwargs.get("files"),
        cookies=kwargs.get("cookies"),
    ).prepare()
    session = requests.Session()
    path = case.operation.path
    if not signed_out:
        role = _role_for(path)
        if case.method.upper() == "POST" and path == "/logout":
            # Signing out ends the session: a fresh one each time, not the module's.
            username = f"fuzz-out-{uuid.uuid4().hex[:8]}"
            Accounts(hub.engine).add(username, PASSWORD, "agent", "Fuzz")
            session, csrf = sign_in(hub.url, username)
        elif role is not None:
            session, csrf = hub.browser(role)
        if role is not None:
            request.prepare_cookies(session.cookies)
            request.headers[CSRF_HEADER] = csrf
            request.headers["Origin"] = hub.url
        elif case.operation.definition.raw.get("security"):
            department = case.path_parameters.get("name")
            if department not in SECRETS:
                handoff_id = case.path_parameters.get("handoff_id")
                findable = type(handoff_id) is int and abs(handoff_id) <= MAX_ID
                department = hub.department_of(handoff_id) if findable else None
            body = request.body or b""
            body = body.encode() if isinstance(body, str) else body
            secret = SECRETS.get(department or "", SECRETS["billing"])
            request.headers.update(signature_headers(secret, body, time.time()))
    # Generous: on the loaded 2-core machine one review query once took more than 10 s.
    return requests.Session().send(request, timeout=30, allow_redirects=False)


def _fuzz(hub: FuzzHub, method: str, path: str, mode: GenerationMode, checks: list) -> None:
    operation = hub.schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        response = _send(hub, case)
        case.validate_response(response, checks=checks)

    check()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_valid_requests_conform(fuzz_hub: FuzzHub, method: str, path: str) -> None:
    """Generated valid requests get no 5xx and answers exactly as the document describes."""
    _fuzz(fuzz_hub, method, path, GenerationMode.POSITIVE, POSITIVE_CHECKS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_invalid_requests_are_4xx(fuzz_hub: FuzzHub, method: str, path: str) -> None:
    """Generated invalid requests get a documented 4xx (or what the document allows), no 5xx."""
    try:
        _fuzz(fuzz_hub, method, path, GenerationMode.NEGATIVE, NEGATIVE_CHECKS)
    except Unsatisfiable:
        # Nothing with a constraint to break: no body, and free-text or no parameters.
        pytest.skip("schemathesis can make no invalid request for this operation")


API_OPERATIONS = [(m, p) for m, p in OPERATIONS if p.startswith("/api/") and (m, p) not in PUBLIC]


@pytest.mark.parametrize(
    ("method", "path"), API_OPERATIONS, ids=[f"{m} {p}" for m, p in API_OPERATIONS]
)
def test_api_refuses_callers_without_sign_in(fuzz_hub: FuzzHub, method: str, path: str) -> None:
    """Every API operation but the public ones answers 401 or 403 without a session or signature."""
    operation = fuzz_hub.schema[path][method]

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        response = _send(fuzz_hub, case, signed_out=True)
        assert response.status_code in (401, 403), (
            f"{method} {case.formatted_path} without sign-in: {response.status_code} "
            f"{response.text[:200]}"
        )

    check()


def test_every_api_operation_is_covered(fuzz_hub: FuzzHub) -> None:
    """The served document is the one fuzzed, and the sign-in list covers the whole API."""
    served = sorted(
        (method.upper(), path)
        for path, item in fuzz_hub.schema.raw_schema["paths"].items()
        for method in item
        if method != "parameters"
    )
    assert served == OPERATIONS
    assert len(API_OPERATIONS) >= 20  # console, review and department APIs


INTEGER_ID_OPERATIONS = [
    (m, p)
    for m, p in OPERATIONS
    if any(
        param["in"] == "path" and param["schema"].get("type") == "integer"
        for param in document()["paths"][p].get("parameters", [])
        + document()["paths"][p][m.lower()].get("parameters", [])
    )
]


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_ids_beyond_any_database_key_are_404(fuzz_hub: FuzzHub, huge: int) -> None:
    """Regression (found by fuzzing): an id too large for the database was a 500."""
    assert len(INTEGER_ID_OPERATIONS) >= 8
    session, csrf = fuzz_hub.browser("admin")
    for method, path in INTEGER_ID_OPERATIONS:
        url = fuzz_hub.url + path.replace("{name}", "billing")
        url = url.replace("{handoff_id}", str(huge)).replace("{touchpoint_id}", str(huge))
        url = url.replace("{example_id}", str(huge))
        headers = {CSRF_HEADER: csrf, "Origin": fuzz_hub.url}
        r = session.request(method, url, headers=headers, timeout=10, allow_redirects=False)
        assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text[:200]}"


def test_unknown_handoffs_are_not_revealed_to_unsigned_callers(fuzz_hub: FuzzHub) -> None:
    """Regression (found by fuzzing): an unsigned call learnt which handoff ids exist (404)."""
    unknown = f"{fuzz_hub.url}/api/handoffs/999999/acknowledge"
    assert requests.post(unknown, timeout=10).status_code == 401
    signed = signature_headers(SECRETS["sales"], b"", time.time())
    assert requests.post(unknown, headers=signed, timeout=10).status_code == 404
