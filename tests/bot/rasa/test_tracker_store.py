"""Rasa's SQL tracker store on SQLite in WAL mode (bot/rasa/tracker_store.py), loaded the way
the Rasa server loads it: from the endpoints file bot/rasa/endpoints.py writes."""

from __future__ import annotations

import asyncio
import sqlite3

import yaml
from rasa.core.tracker_store import create_tracker_store
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.rasa.endpoints import endpoints_file
from bot.rasa.tracker_store import SQLiteTrackerStore
from bot.settings import Settings


def store_from_endpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("CX_ACTION_SECRET", "not-used-here")  # the file names it; Rasa expands it
    settings = Settings.from_env({"CX_VAR_DIR": str(tmp_path / "var")})
    config = read_endpoint_config(str(endpoints_file(settings)), "tracker_store")
    return create_tracker_store(config), settings.var_dir / "tracker.db"


def test_the_rasa_server_gets_the_wal_store_and_conversations_round_trip(tmp_path, monkeypatch):
    store, path = store_from_endpoints(tmp_path, monkeypatch)
    # Rasa falls back to an in-memory store, with only a warning, when the class named in
    # the file cannot be imported: conversations would then vanish with every restart.
    assert isinstance(getattr(store, "_tracker_store", store), SQLiteTrackerStore)
    tracker = DialogueStateTracker.from_events(
        "wal-1",
        [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
        + [UserUttered("where is my order?", {"name": "order_status", "confidence": 0.9})],
    )
    asyncio.run(store.save(tracker))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = asyncio.run(store.retrieve("wal-1"))
    assert again is not None and again.latest_message.text == "where is my order?"


def test_the_stores_connections_do_not_wait_for_the_disk_on_every_commit(tmp_path, monkeypatch):
    store, _ = store_from_endpoints(tmp_path, monkeypatch)
    inner = getattr(store, "_tracker_store", store)
    with inner.engine.connect() as conn:
        # 1 = NORMAL: in WAL mode a commit survives the process dying, without an fsync.
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1


def test_endpoints_name_the_class_only_for_sqlite(tmp_path):
    settings = Settings.from_env({"CX_VAR_DIR": str(tmp_path / "var")})
    written = yaml.safe_load(endpoints_file(settings).read_text())["tracker_store"]
    assert written["type"] == "bot.rasa.tracker_store.SQLiteTrackerStore"
    postgres = Settings.from_env(
        {"CX_VAR_DIR": str(tmp_path / "pg"), "CX_TRACKER_URL": "postgresql://u@db.internal/t"}
    )
    assert yaml.safe_load(endpoints_file(postgres).read_text())["tracker_store"]["type"] == "SQL"
