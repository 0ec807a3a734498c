"""The process environment is read in one place: bot/settings.py.

Every other module of bot/ and actions/ is handed a ``Settings`` (or a value of one, or its
``secrets`` mapping) by its caller. This walks their source with ``ast`` (nothing is
imported) and names file:line of any ``os.environ`` / ``os.getenv`` (under any alias of
``os``, or imported from it by name) outside bot/settings.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "actions")
THE_ONE_PLACE = Path("bot/settings.py")
# The os module's ways into the process environment.
ENVIRON_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
SKIPPED_DIRS = {"__pycache__", "node_modules"}


def environment_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) of every use of the process environment in ``source``.

    ``environ`` as a plain parameter (socket.io's WSGI environ, bot/rasa/channels/web.py) is
    not the process environment and is not reported; ``environ`` imported from ``os`` is.
    """
    tree = ast.parse(source)
    os_aliases: set[str] = set()
    from_os: dict[str, str] = {}  # local name -> os attribute
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_aliases |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in ENVIRON_NAMES:
                    from_os[alias.asname or alias.name] = alias.name
                    found.append((node.lineno, f"from os import {alias.name}"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRON_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_aliases
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in from_os:
            found.append((node.lineno, f"{node.id} (os.{from_os[node.id]})"))
    return sorted(found)


def python_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
                files.append(path)
    return files


def test_only_bot_settings_reads_the_environment():
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in python_files()
        if path.relative_to(ROOT) != THE_ONE_PLACE
        for line, what in environment_reads(path.read_text(encoding="utf-8"))
    ]
    assert not offences, (
        "the environment is read outside bot/settings.py; declare the variable there and "
        "hand the value down:\n" + "\n".join(offences)
    )


def test_the_settings_module_is_where_it_is_read():
    # The walk covers the file it exempts: a renamed or emptied bot/settings.py fails here.
    reads = environment_reads((ROOT / THE_ONE_PLACE).read_text(encoding="utf-8"))
    assert any(what == "os.environ" for _, what in reads)
    assert ROOT / THE_ONE_PLACE in python_files()


def test_every_way_of_reaching_the_environment_is_found():
    source = (
        "import os\n"
        "import os as system\n"
        "from os import getenv, environ as env\n"
        "a = os.environ.get('CX_A')\n"
        "b = system.getenv('CX_B')\n"
        "c = getenv('CX_C')\n"
        "d = env['CX_D']\n"
        "def connect(sid, environ):\n"
        "    return environ.get('REMOTE_ADDR')\n"  # a parameter, not the process environment
    )
    assert environment_reads(source) == [
        (3, "from os import environ"),
        (3, "from os import getenv"),
        (4, "os.environ"),
        (5, "system.getenv"),
        (6, "getenv (os.getenv)"),
        (7, "env (os.environ)"),
    ]


def test_the_hub_settings_derive_from_the_one_settings_object():
    from bot.hub.settings import HubSettings
    from bot.settings import Settings

    env = {
        "CX_JOURNEY_URL": "sqlite:///j.db",
        "CX_HOST": "10.0.0.5",
        "CX_HUB_PORT": "8100",
        "CX_RASA_PORT": "5105",
        "CX_RASA_TOKEN": "t0ken",
        "CX_WIDGET_SECRET": "w" * 32,
        "CX_RATE_LOGIN_FAILURES": "3/5m",
        "CX_TRUSTED_PROXIES": "1",
        "CX_TAKEOVER_LEASE_SECONDS": "30",
        "CX_HUB_DELIVER_NEWS": "0",
        "CX_BACKOFFICE_API_URL": "http://backoffice.internal",
        "CX_WEBHOOK_SECRET_BILLING": "b1lling",
    }
    settings = Settings.from_env(env)
    hub = HubSettings.from_settings(settings)
    assert (hub.journey_url, hub.host, hub.port) == ("sqlite:///j.db", "10.0.0.5", 8100)
    assert hub.rasa_url == hub.rasa_api_url == "http://10.0.0.5:5105"  # no override: Rasa's own
    assert (hub.rasa_token, hub.widget_secret) == ("t0ken", "w" * 32)
    assert hub.rate_limits.login_failures.limit == 3 and hub.rate_limits.trusted_proxies == 1
    assert hub.takeover_lease_seconds == 30.0 and hub.deliver_news is False
    assert hub.backoffice_api_url == "http://backoffice.internal"
    assert hub.secrets["CX_WEBHOOK_SECRET_BILLING"] == "b1lling"  # looked up by name
    assert HubSettings.from_env(env) == hub
    assert HubSettings.from_settings(settings, port=0).port == 0  # a command line's override


def test_no_secret_is_in_the_repr_of_either_settings_object():
    from bot.hub.settings import HubSettings
    from bot.settings import Settings

    secrets = {
        "CX_RASA_TOKEN": "secret-rasa-token",
        "CX_WIDGET_SECRET": "secret-widget-key",
        "CX_WIDGET_SECRET_PREVIOUS": "secret-old-widget-key",
        "CX_ACTION_SECRET": "secret-action-key",
        "CX_SMTP_PASSWORD": "secret-smtp-password",
        "CX_HUB_ADMIN_PASSWORD": "secret-admin-password",
        "CX_WEBHOOK_SECRET_BILLING": "secret-webhook-key",
    }
    settings = Settings.from_env(secrets)
    shown = repr(settings) + repr(HubSettings.from_settings(settings))
    assert [name for name, value in secrets.items() if value in shown] == []
