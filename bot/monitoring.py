"""Every process's Prometheus metrics, defined in one place (deploy/README.md, "Metrics").

Each process (Rasa server, action server, hub, handoff dispatcher) serves its metrics on a
listener of its own, on loopback by default (``CX_METRICS_HOST``), at the port
``Settings.metrics_port_of(role)`` gives: ``CX_METRICS_PORT`` (default 9400) plus the
role's offset (bot/settings.py, ``METRICS_OFFSETS``), or ``CX_METRICS_OWN_PORT`` where the
runner hands each process of a scale-out its own; ``CX_METRICS_PORT=0`` turns them off.

What a message costs the Rasa server: a context variable set and reset, a counter increment
and a list append per remote action, then one counter increment and two histogram
observations, all in memory (about 40 microseconds for a turn of three actions, measured;
a turn takes 30-100 ms). The action server's journey writes are timed by wrapping its
engine's dialect (a few microseconds per transaction). Nothing per turn reads a database: the gauges that do (outbox, takeovers, queue) are
custom collectors, read when Prometheus scrapes. Labels stay few: turn type (the custom
action that answered, a name from domain.yml), channel, department, outcome; never a
sender id.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import (
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.settings import Settings

logger = logging.getLogger(__name__)

# Defined here, registered by ``serve`` only in the process that owns them (OWNED), so a
# process's endpoint shows its own metrics and none that never move there.

# -- the Rasa server: turns, remote actions, action failures ---------------------------------

TURN_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TURNS = Counter(
    "cx_turns",
    "Customer messages the Rasa server answered, by turn type (the custom action that "
    "answered, or 'none') and channel.",
    ["turn_type", "channel"],
    registry=None,
)
TURN_SECONDS = Histogram(
    "cx_turn_seconds",
    "Time from a customer message reaching a channel to the Rasa server's answer, by turn "
    "type and channel.",
    ["turn_type", "channel"],
    buckets=TURN_BUCKETS,
    registry=None,
)
TURN_REMOTE_ACTIONS = Histogram(
    "cx_turn_remote_actions",
    "Calls to the action server per customer message (each one costs a policy prediction "
    "and a tracker round trip), by turn type.",
    ["turn_type"],
    buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10),
    registry=None,
)
REMOTE_ACTIONS = Counter(
    "cx_remote_actions",
    "Calls the Rasa server made to the action server, by action.",
    ["action"],
    registry=None,
)
ACTION_FAILURES = Counter(
    "cx_action_failures",
    "Action-server calls that failed and were answered by the Rasa server's apology "
    "(bot/rasa/action_faults.py), by action and reason (unreachable, timeout, http_<status>, error).",
    ["action", "reason"],
    registry=None,
)

# -- the action server: journey-store writes --------------------------------------------------

JOURNEY_WRITE_SECONDS = Histogram(
    "cx_journey_write_seconds",
    "Time from a journey-store transaction's start to the end of its commit, for "
    "transactions that wrote (the action server's).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=None,
)

# -- the handoff dispatcher: deliveries ------------------------------------------------------

DELIVERIES = Counter(
    "cx_deliveries",
    "Attempts to deliver a handoff to its department's webhook, by department and outcome "
    "(sent; retry: to be sent again; dead: a dead letter).",
    ["department", "outcome"],
    registry=None,
)

# The metrics each process serves, beside Python's own (memory, CPU, open files, GC).
OWNED: dict[str, tuple[Any, ...]] = {
    "rasa": (TURNS, TURN_SECONDS, TURN_REMOTE_ACTIONS, REMOTE_ACTIONS, ACTION_FAILURES),
    "actions": (JOURNEY_WRITE_SECONDS,),
    "hub": (),  # its gauges are read per scrape (TakeoverCollector)
    "dispatcher": (DELIVERIES,),  # and the outbox, read per scrape (OutboxCollector)
}

_OUTCOMES = {"sent": "sent", "pending": "retry", "dead": "dead"}  # an outbox row's new state


def delivered(department: str, state: str) -> None:
    """Count one delivery attempt to ``department`` that left its row in ``state``."""
    DELIVERIES.labels(department, _OUTCOMES.get(state, state)).inc()


# Turns that ran only these custom actions are typed by the responses alone ("none").
BOOKKEEPING_ACTIONS = frozenset({"action_session_start", "action_log_turn"})
NO_ACTION = "none"


class _Turn:
    """The custom actions one customer message ran, in order."""

    __slots__ = ("actions",)

    def __init__(self) -> None:
        self.actions: list[str] = []


# Set for the length of one message's handling: the action endpoint (bot/rasa/action_faults.py)
# runs inside it, in the same task.
_turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar(
    "cx_metrics_turn", default=None
)


def turn_type(actions: Iterable[str]) -> str:
    """The custom action that answered: the last one run other than bookkeeping, or "none"."""
    for action in reversed(list(actions)):
        if action not in BOOKKEEPING_ACTIONS:
            return action
    return NO_ACTION


def timed_turns(
    handle: Callable[[Any], Awaitable[Any]], channel: str
) -> Callable[[Any], Coroutine[Any, Any, Any]]:
    """``handle`` (a channel's ``on_new_message``), counting and timing each message."""

    async def handle_timed(message: Any) -> Any:
        turn = _Turn()
        token = _turn.set(turn)
        started = time.perf_counter()
        try:
            return await handle(message)
        finally:
            seconds = time.perf_counter() - started
            _turn.reset(token)
            observe_turn(turn.actions, channel, seconds)

    return handle_timed


def observe_turn(actions: list[str], channel: str, seconds: float) -> None:
    """Count one answered message that ran ``actions`` on ``channel`` in ``seconds``."""
    kind = turn_type(actions)
    TURNS.labels(kind, channel).inc()
    TURN_SECONDS.labels(kind, channel).observe(seconds)
    TURN_REMOTE_ACTIONS.labels(kind).observe(len(actions))


def action_called(action: str) -> None:
    """Count a call to the action server (made within the current message, if any)."""
    REMOTE_ACTIONS.labels(action).inc()
    turn = _turn.get()
    if turn is not None:
        turn.actions.append(action)


def action_failed(action: str, reason: str) -> None:
    """Count an action-server call the Rasa server answered for, having failed."""
    ACTION_FAILURES.labels(action, reason).inc()


# -- journey-store write time ----------------------------------------------------------------

_WRITES = ("INSERT", "UPDATE", "DELETE")


def time_journey_writes(engine: Engine) -> None:
    """Observe ``JOURNEY_WRITE_SECONDS`` for every transaction on ``engine`` that writes.

    The engine's own dialect (each engine has one) is wrapped where it begins, executes and
    commits on the database connection: a write is timed from its transaction's start to
    the end of its commit (an fsync on PostgreSQL is part of what a write costs). Not
    SQLAlchemy's engine events: any listener on an engine sends every statement down a
    slower path (about 0.1 ms per transaction, measured), the wrappers cost a function call.
    Idempotent.
    """
    dialect = engine.dialect
    if getattr(dialect, "_cx_timed_writes", False):
        return
    dialect._cx_timed_writes = True
    # Per database connection: [when its transaction began, whether it wrote].
    open_transactions: dict[int, list[Any]] = {}
    begin, commit, rollback = dialect.do_begin, dialect.do_commit, dialect.do_rollback
    execute, execute_many = dialect.do_execute, dialect.do_executemany
    execute_bare = dialect.do_execute_no_params

    def key(connection: Any) -> int:  # SQLAlchemy passes the pool's proxy, cursors the driver's
        return id(getattr(connection, "dbapi_connection", connection))

    def wrote(cursor: Any, statement: str) -> None:
        if statement.lstrip()[:6].upper() in _WRITES:
            transaction = open_transactions.get(id(cursor.connection))
            if transaction is not None:
                transaction[1] = True

    def do_begin(connection: Any) -> None:
        open_transactions[key(connection)] = [time.perf_counter(), False]
        begin(connection)

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        wrote(cursor, statement)
        execute(cursor, statement, parameters, context)

    def do_executemany(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        wrote(cursor, statement)
        execute_many(cursor, statement, parameters, context)

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        wrote(cursor, statement)
        execute_bare(cursor, statement, context)

    def do_commit(connection: Any) -> None:
        transaction = open_transactions.pop(key(connection), None)
        commit(connection)
        if transaction is not None and transaction[1]:
            JOURNEY_WRITE_SECONDS.observe(time.perf_counter() - transaction[0])

    def do_rollback(connection: Any) -> None:
        open_transactions.pop(key(connection), None)
        rollback(connection)

    dialect.do_begin = do_begin
    dialect.do_execute = do_execute
    dialect.do_executemany = do_executemany
    dialect.do_execute_no_params = do_execute_no_params
    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback


# -- gauges read from the journey store at scrape time ---------------------------------------


class OutboxCollector(Collector):
    """The dispatcher's outbox, read at each scrape: pending rows and the oldest one's age
    per department, dead letters per department, and each department's service level."""

    def __init__(
        self,
        engine: Engine,
        sla_seconds: Mapping[str, float],
        now: Callable[[], datetime] = datetime.now,
    ):
        self._engine = engine  # a migrated journey database
        self._sla = dict(sla_seconds)
        self._now = now  # naive local time, like every time in the journey database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _read_or_nothing(self._collect, "the outbox")

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        from bot.db.schema import outbox

        pending = GaugeMetricFamily(
            "cx_outbox_pending",
            "Handoffs in the outbox not yet delivered to their department, by department.",
            labels=["department"],
        )
        age = GaugeMetricFamily(
            "cx_outbox_oldest_age_seconds",
            "Age of the oldest handoff not yet delivered, by department (0 when none waits).",
            labels=["department"],
        )
        dead = GaugeMetricFamily(
            "cx_outbox_dead_letters",
            "Handoffs given up on (dead letters) still in the outbox, by department: each "
            "needs a person (`python -m bot dead-letters`).",
            labels=["department"],
        )
        sla = GaugeMetricFamily(
            "cx_department_sla_seconds",
            "Each department's service level (departments.yml): the promised answer time.",
            labels=["department"],
        )
        now = self._now()
        counts: dict[tuple[str, str], int] = {}
        oldest: dict[str, datetime] = {}
        with self._engine.connect() as conn:
            for department, state, n, first in conn.execute(
                select(
                    outbox.c.department,
                    outbox.c.state,
                    func.count(),
                    func.min(outbox.c.created_at),
                )
                .where(outbox.c.state.in_(("pending", "dead")))
                .group_by(outbox.c.department, outbox.c.state)
            ):
                counts[(department, state)] = n
                if state == "pending" and first is not None:
                    oldest[department] = first
        departments = sorted(set(self._sla) | {d for d, _ in counts})
        for department in departments:
            pending.add_metric([department], counts.get((department, "pending"), 0))
            dead.add_metric([department], counts.get((department, "dead"), 0))
            first = oldest.get(department)
            age.add_metric([department], max(0.0, (now - first).total_seconds()) if first else 0)
            if department in self._sla:
                sla.add_metric([department], self._sla[department])
        yield from (pending, age, dead, sla)


class TakeoverCollector(Collector):
    """The agents' side, read at each scrape: chats an agent holds now, conversations
    waiting in the escalation queue for one, and how long the longest has waited."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine  # a migrated journey database
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _read_or_nothing(self._collect, "takeovers and the queue")

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        from bot.agents.escalations import SUPPORT, UNRESOLVED
        from bot.db.schema import handoffs, takeovers

        held = select(takeovers.c.conversation_id).where(takeovers.c.status == "active")
        with self._engine.connect() as conn:
            active = conn.execute(
                select(func.count()).select_from(takeovers).where(takeovers.c.status == "active")
            ).scalar_one()
            waiting, first = conn.execute(
                select(
                    func.count(func.distinct(handoffs.c.conversation_id)),
                    func.min(handoffs.c.created_at),
                ).where(
                    handoffs.c.department == SUPPORT,
                    handoffs.c.status.in_(UNRESOLVED),
                    handoffs.c.conversation_id.not_in(held),
                )
            ).one()
        yield GaugeMetricFamily(
            "cx_takeovers_open", "Conversations an agent has taken over now.", value=active
        )
        yield GaugeMetricFamily(
            "cx_queue_waiting",
            "Conversations in the escalation queue that no agent has taken yet.",
            value=waiting,
        )
        wait = max(0.0, (self._now() - first).total_seconds()) if first else 0.0
        yield GaugeMetricFamily(
            "cx_queue_oldest_wait_seconds",
            "How long the conversation waiting longest in the escalation queue has waited "
            "(0 when none waits).",
            value=wait,
        )


def _read_or_nothing(
    collect: Callable[[], Iterator[GaugeMetricFamily]], what: str
) -> Iterator[GaugeMetricFamily]:
    """The families ``collect`` reads, or none when the database fails: the other metrics
    are still scraped, and the missing ones are what ``absent()`` alerts on."""
    try:
        families = list(collect())
    except Exception as e:  # a database down or locked must not fail the whole scrape
        logger.warning("Metrics: could not read %s from the journey store: %s", what, e)
        return
    yield from families


# -- the listener ----------------------------------------------------------------------------

_serving: dict[str, int] = {}  # role -> port, in this process
_serve_lock = threading.Lock()


def serve(
    role: str, collectors: Iterable[Collector] = (), settings: Settings | None = None
) -> int | None:
    """Serve this process's metrics at ``/metrics`` on its port; the port, or None if off.

    ``collectors`` are registered with them (once). A port already taken is logged, not
    raised: the process keeps serving customers without its metrics. Idempotent per role.
    """
    settings = settings or Settings.from_env()
    port = settings.metrics_port_of(role)
    if not port:
        return None
    with _serve_lock:
        if role in _serving:
            return _serving[role]
        try:
            disable_created_metrics()  # no *_created series: half as many, and unused
            start_http_server(port, addr=settings.metrics_host)
        except OSError as e:
            logger.error(
                "Metrics: cannot listen on %s:%s (%s); the %s runs without its metrics endpoint",
                settings.metrics_host,
                port,
                e,
                role,
            )
            return None
        _serving[role] = port
        for collector in (*OWNED[role], *collectors):
            REGISTRY.register(collector)
    logger.info("Metrics of the %s on http://%s:%s/metrics", role, settings.metrics_host, port)
    return port


def serve_rasa(settings: Settings | None = None) -> None:
    """The Rasa server's listener (called as it starts, from bot/rasa/channels/rest.py)."""
    serve("rasa", settings=settings)


def serve_actions(journey_engine: Engine) -> None:
    """The action server's listener, with its journey-store writes timed."""
    time_journey_writes(journey_engine)
    serve("actions")


def serve_hub(engine: Engine) -> None:
    """The hub's listener, with takeovers and the queue read from ``engine`` at each scrape."""
    serve("hub", [TakeoverCollector(engine)])


def serve_dispatcher(engine: Engine, departments: Mapping[str, Any]) -> None:
    """The dispatcher's listener, with the outbox read from ``engine`` at each scrape."""
    sla = {name: d.sla_hours * 3600.0 for name, d in departments.items()}
    serve("dispatcher", [OutboxCollector(engine, sla)])
