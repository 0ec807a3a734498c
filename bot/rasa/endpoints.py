"""Rasa's endpoints.yml for one run: the committed file pointed at this run's servers and stores.

Apart from bot/runner.py because it is Rasa's configuration, not process handling: it
translates our URLs (``CX_TRACKER_URL``, ``CX_LOCK_URL``) into the entries Rasa 3.6 reads,
and the scale-out writes one file per Rasa server with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url

# LOCK_PASSWORD_ENV: the file only names it; Rasa reads the lock store's Redis password
# from the environment child_env (bot/processes.py) gives it.
from bot.settings import LOCK_PASSWORD_ENV, Settings

ACTION_SECRET_HEADER = "X-CX-Action-Secret"  # as bot/rasa/action_server.py checks it
# Rasa's SQL tracker store with its SQLite file in WAL mode (bot/rasa/tracker_store.py),
# named by path so that writing this file does not import Rasa.
SQLITE_TRACKER_STORE = "bot.rasa.tracker_store.SQLiteTrackerStore"


def endpoints_file(
    settings: Settings, *, action_url: str | None = None, name: str = "endpoints.yml"
) -> Path:
    """endpoints.yml as committed, pointed at this run's action server and var/ directory.

    ``action_url`` overrides the action server (a scale-out points each Rasa at its own, or
    at a load balancer); ``name`` keeps one file per Rasa server apart under var/run/.
    """
    data = yaml.safe_load((settings.root / "endpoints.yml").read_text())
    data["action_endpoint"]["url"] = (
        action_url or settings.action_endpoint_url or settings.action_url
    )
    # Rasa expands ${...} from its environment when it reads the file: the secret itself
    # stays out of var/run/ (child_env hands it to Rasa and the action server).
    data["action_endpoint"].setdefault("headers", {})[ACTION_SECRET_HEADER] = "${CX_ACTION_SECRET}"
    if settings.tracker_url:
        data["tracker_store"] = sql_tracker_store(settings.tracker_url)
    elif data.get("tracker_store", {}).get("dialect") == "sqlite":
        data["tracker_store"]["db"] = str(settings.var_dir / "tracker.db")
        data["tracker_store"]["type"] = SQLITE_TRACKER_STORE
    if settings.lock_url:
        data["lock_store"] = redis_lock_store(
            settings.lock_url, settings.lock_key_prefix, settings.lock_lifetime
        )
    out = settings.var_dir / "run" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data))
    return out


def redis_lock_store(url: str, key_prefix: str = "", lifetime: float = 8.0) -> dict[str, Any]:
    """Rasa's ``lock_store`` entry for a URL such as ``CX_LOCK_URL``: Rasa's Redis lock store
    with short tickets renewed while their server lives (bot/rasa/lock_store.py).

    ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS; the arguments of
    Rasa 3.6's ``RedisLockStore`` (host from ``url``, port, db, username, password,
    use_ssl, key_prefix) and the tickets' ``lifetime`` (``CX_LOCK_LIFETIME``). The password
    stays out of the file: Rasa expands ``${CX_LOCK_PASSWORD}`` from its environment, which
    ``child_env`` fills from the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"CX_LOCK_URL={_without_password(url)!r} is not a redis:// URL")
    db = parts.path.strip("/") or "0"  # Rasa's own default is 1; a URL without one means 0
    if not db.isdigit():
        raise ValueError(f"CX_LOCK_URL: the database {db!r} is not a number")
    entry: dict[str, Any] = {
        "type": "bot.rasa.lock_store.RenewingRedisLockStore",
        "url": parts.hostname,
        "port": parts.port or 6379,
        "db": int(db),
        "lifetime": lifetime,
    }
    if parts.username:
        entry["username"] = unquote(parts.username)
    if parts.password:
        entry["password"] = "${" + LOCK_PASSWORD_ENV + "}"
    if parts.scheme == "rediss":
        entry["use_ssl"] = True
    if key_prefix:
        entry["key_prefix"] = key_prefix
    return entry


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def sql_tracker_store(url: str) -> dict[str, Any]:
    """Rasa's ``tracker_store`` entry (type SQL) for a SQLAlchemy URL such as ``CX_TRACKER_URL``."""
    parsed = make_url(url)
    if parsed.drivername.split("+")[0] == "sqlite":
        return {"type": SQLITE_TRACKER_STORE, "dialect": "sqlite", "db": parsed.database}
    entry = {
        "type": "SQL",
        "dialect": parsed.drivername,
        "url": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
        "query": dict(parsed.query) or None,
    }
    return {key: value for key, value in entry.items() if value is not None}
