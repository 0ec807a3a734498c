"""Rasa's SQL tracker store, with its SQLite file set up as our own databases are.

Rasa 3.6 opens an SQLite tracker store in SQLite's defaults (rollback journal,
synchronous=FULL) and, through SQLAlchemy 1.4's NullPool, with a new connection for every
read and every write. Saving a turn then waits for several fsyncs on the Rasa server's
event loop, where every other conversation waits too: py-spy put 43% of a loaded Rasa
server's time in the tracker store's ``save``, most of it in ``commit``.

Here the file gets what bot/db/engine.py gives ours: WAL with synchronous=NORMAL (a
committed turn survives the process being killed; only a power cut can lose the last
few), a busy timeout so a second reader or writer waits instead of failing, and pooled
connections. Any other database (PostgreSQL in the scale-out) is left as Rasa makes it.

endpoints.yml keeps ``type: SQL``; bot/rasa/endpoints.py names this class in the file it
writes for the Rasa server when the store is SQLite.
"""

from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.db.engine import make_engine


class SQLiteTrackerStore(SQLTrackerStore):  # type: ignore[misc]  # Rasa is untyped
    """``SQLTrackerStore`` on an SQLite file in WAL mode with pooled connections."""

    engine: Engine  # made by Rasa's __init__, which does not annotate it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # Rasa made the tables through its own engine; the same file, reopened.
            self.engine.dispose()
            self.engine = make_engine(url.render_as_string(hide_password=False))
            self.sessionmaker = sessionmaker(bind=self.engine)
