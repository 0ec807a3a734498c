"""The scale-out configuration: Rasa's lock store from CX_LOCK_URL, the process layout,
deploy/nginx/cx.conf (checked by nginx itself) and deploy/compose.yaml.

Fast: no server starts here; `make scale-test` runs the layout for real (tests/scale/).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
import yaml

from bot.processes import child_env, scale_out_processes
from bot.rasa.endpoints import endpoints_file, redis_lock_store
from bot.settings import LOCK_PASSWORD_ENV, ROOT, Settings
from tests.scale.cluster import NGINX, NGINX_SITE, nginx_test, render_site

DEPLOY = ROOT / "deploy"


def settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"CX_VAR_DIR": str(tmp_path), **env})


def written(s: Settings, **kwargs) -> dict:
    return yaml.safe_load(endpoints_file(s, **kwargs).read_text())


# --- Rasa's lock store ------------------------------------------------------------------------


def test_no_lock_url_keeps_rasas_in_memory_lock_store(tmp_path):
    s = settings(tmp_path)
    assert "lock_store" not in written(s)
    assert "CX_LOCK_URL" not in child_env(s) or os.environ.get("CX_LOCK_URL")


def test_lock_url_becomes_rasas_redis_lock_store_with_the_password_left_in_the_environment(
    tmp_path,
):
    s = settings(
        tmp_path,
        CX_LOCK_URL="redis://:s%40cret@cache.internal:6380/2",
        CX_LOCK_KEY_PREFIX="cxprod",
    )
    path = endpoints_file(s)
    assert yaml.safe_load(path.read_text())["lock_store"] == {
        "type": "bot.rasa.lock_store.RenewingRedisLockStore",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "lifetime": 8.0,
        "password": "${CX_LOCK_PASSWORD}",
        "key_prefix": "cxprod",
    }
    assert "s%40cret" not in path.read_text()  # the secret never lands in var/run/
    assert "s@cret" not in path.read_text()
    env = child_env(s)
    assert env[LOCK_PASSWORD_ENV] == "s@cret"  # unquoted, as Redis expects it
    assert (env["CX_LOCK_URL"], env["CX_LOCK_KEY_PREFIX"]) == (s.lock_url, "cxprod")


def test_lock_url_defaults_and_tls():
    assert redis_lock_store("redis://127.0.0.1") == {
        "type": "bot.rasa.lock_store.RenewingRedisLockStore",
        "url": "127.0.0.1",
        "port": 6379,
        "db": 0,  # not Rasa's own default of 1: a URL without a database means 0
        "lifetime": 8.0,
    }
    assert redis_lock_store("rediss://bot@cache:6390/0")["use_ssl"] is True
    assert redis_lock_store("rediss://bot@cache:6390/0")["username"] == "bot"


@pytest.mark.parametrize(
    "url", ["http://cache:6379", "redis:///0", "redis://cache/zero", "cache:6379"]
)
def test_a_lock_url_that_is_not_redis_is_refused_without_showing_a_password(url):
    with pytest.raises(ValueError, match="CX_LOCK_URL"):
        redis_lock_store(url)
    with pytest.raises(ValueError) as raised:
        redis_lock_store("http://:hunter2@cache:6379")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("lifetime", ["1.5", "0", "-3", "soon"])
def test_a_lock_lifetime_under_two_seconds_or_not_a_number_is_refused(tmp_path, lifetime):
    with pytest.raises(ValueError, match="CX_LOCK_LIFETIME"):
        settings(tmp_path, CX_LOCK_URL="redis://127.0.0.1", CX_LOCK_LIFETIME=lifetime)


def test_a_key_prefix_rasa_would_ignore_is_refused(tmp_path):
    # Rasa drops a non-alphanumeric prefix with only a warning: two deployments would share keys.
    with pytest.raises(ValueError, match="letters and digits"):
        settings(tmp_path, CX_LOCK_URL="redis://127.0.0.1", CX_LOCK_KEY_PREFIX="cx-prod")


def test_rasa_reads_our_lock_store_entry_as_a_redis_lock_store(tmp_path, monkeypatch):
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.utils.endpoints import read_endpoint_config

    s = settings(tmp_path, CX_LOCK_URL="redis://:pw@127.0.0.1:6390/3", CX_LOCK_KEY_PREFIX="cxA1")
    path = endpoints_file(s)
    monkeypatch.setenv(LOCK_PASSWORD_ENV, child_env(s)[LOCK_PASSWORD_ENV])
    monkeypatch.setenv("CX_ACTION_SECRET", "x")  # Rasa expands every ${...} of the file
    store = LockStore.create(read_endpoint_config(str(path), "lock_store"))
    assert isinstance(store, RedisLockStore)
    kwargs = store.red.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "127.0.0.1",
        6390,
        3,
        "pw",
    )
    assert store.key_prefix == "cxA1:lock:"


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL is not set")
def test_two_lock_stores_from_our_config_share_one_conversation_lock_on_redis(
    tmp_path, monkeypatch
):
    """What several Rasa processes rely on: a ticket issued by one is seen by the other."""
    monkeypatch.setenv("CX_ACTION_SECRET", "x")  # Rasa expands every ${...} of the file
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    prefix = f"cxtest{uuid.uuid4().hex[:8]}"
    s = settings(tmp_path, CX_LOCK_URL=os.environ["TEST_REDIS_URL"], CX_LOCK_KEY_PREFIX=prefix)
    config = read_endpoint_config(str(endpoints_file(s)), "lock_store")
    first, second = LockStore.create(config), LockStore.create(config)
    try:
        ticket = first.issue_ticket("conversation-1")
        assert second.get_lock("conversation-1").now_serving == ticket
        assert second.is_someone_waiting("conversation-1")
        assert first.red.exists(f"{prefix}:lock:conversation-1")
        first.finish_serving("conversation-1", ticket)
        assert not second.is_someone_waiting("conversation-1")
    finally:
        first.delete_lock("conversation-1")


# --- several Rasa and action servers -----------------------------------------------------------


def test_scale_out_layout_gives_each_rasa_its_own_endpoints_log_and_action_server(tmp_path):
    s = settings(
        tmp_path,
        CX_LOCK_URL="redis://127.0.0.1:6379/0",
        CX_TRACKER_URL="postgresql://cx@db/rasa",
    )
    procs = scale_out_processes(
        s, rasa_ports=[5005, 5006, 5007], action_ports=[5055, 5056], dispatchers=2
    )
    names = [p.name for p in procs]
    assert names == [
        "action server 1",
        "action server 2",
        "Rasa server 1",
        "Rasa server 2",
        "Rasa server 3",
        "hub",
        "handoff dispatcher 1",
        "handoff dispatcher 2",
        "mail catcher",  # no CX_SMTP_URL: codes go to the local catcher, as with `make run`
    ]
    assert len({p.log for p in procs}) == len(procs)  # nobody writes another's log
    rasa = [p for p in procs if p.name.startswith("Rasa")]
    action_urls = []
    for i, proc in enumerate(rasa, start=1):
        assert proc.argv[proc.argv.index("--port") + 1] == str(5004 + i)
        assert proc.argv[proc.argv.index("--interface") + 1] == "127.0.0.1"
        endpoints = yaml.safe_load(Path(proc.argv[proc.argv.index("--endpoints") + 1]).read_text())
        assert endpoints["lock_store"]["type"] == "bot.rasa.lock_store.RenewingRedisLockStore"
        assert endpoints["tracker_store"]["dialect"] == "postgresql"
        action_urls.append(endpoints["action_endpoint"]["url"])
    # Paired: Rasa i calls action server i (round the list).
    assert action_urls == [
        "http://127.0.0.1:5055/webhook",
        "http://127.0.0.1:5056/webhook",
        "http://127.0.0.1:5055/webhook",
    ]
    actions = [p for p in procs if p.name.startswith("action")]
    assert [p.argv[p.argv.index("--port") + 1] for p in actions] == ["5055", "5056"]


def test_scale_out_rasa_servers_can_call_the_action_servers_through_a_balancer(tmp_path):
    s = settings(tmp_path, CX_LOCK_URL="redis://127.0.0.1:6379/0")
    balancer = "http://127.0.0.1:5054/webhook"
    procs = scale_out_processes(
        s, rasa_ports=[5005, 5006], action_ports=[5055], action_url=balancer, hub=False
    )
    for proc in procs:
        if proc.name.startswith("Rasa"):
            path = Path(proc.argv[proc.argv.index("--endpoints") + 1])
            assert yaml.safe_load(path.read_text())["action_endpoint"]["url"] == balancer
    assert "hub" not in [p.name for p in procs]
    # CX_ACTION_URL does the same for `make run`'s single Rasa.
    assert written(settings(tmp_path, CX_ACTION_URL=balancer))["action_endpoint"]["url"] == balancer


def test_several_rasa_servers_without_a_lock_store_are_refused(tmp_path):
    with pytest.raises(ValueError, match="CX_LOCK_URL"):
        scale_out_processes(settings(tmp_path), rasa_ports=[5005, 5006], action_ports=[5055])


# --- nginx -----------------------------------------------------------------------------------


def test_rendering_the_nginx_site_changes_only_ports():
    site = NGINX_SITE.read_text()
    rendered = render_site(
        site,
        listen=18080,
        actions_listen=18054,
        rasa=[17001, 17002, 17003],
        actions=[17101],
        hub=17201,
    )
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", rendered, flags=re.S))
    servers = {
        name: re.findall(r"server 127\.0\.0\.1:(\d+)", body) for name, body in upstreams.items()
    }
    assert servers == {
        "cx_rasa": ["17001", "17002", "17003"],
        "cx_rasa_socketio": ["17001", "17002", "17003"],
        "cx_actions": ["17101"],
        "cx_hub": ["17201"],
    }
    assert "hash $remote_addr consistent;" in upstreams["cx_rasa_socketio"]  # sticky
    assert re.findall(r"listen ([\d.:]+);", rendered) == ["127.0.0.1:18080", "127.0.0.1:18054"]

    def strip(text: str) -> str:  # the server lines and addresses out: the rest is equal
        return re.sub(r"127\.0\.0\.1:\d+", "ADDR", re.sub(r"^\s*server .*\n", "", text, flags=re.M))

    assert strip(rendered) == strip(site)


def test_the_nginx_site_routes_each_public_contract():
    site = NGINX_SITE.read_text()
    for location, upstream in [
        ("/webhooks/", "cx_rasa"),  # REST and Slack webhooks
        ("/conversations/", "cx_rasa"),
        ("/socket.io/", "cx_rasa_socketio"),
        ("/", "cx_hub"),
    ]:
        block = re.search(rf"location {re.escape(location)} \{{(.*?)\}}", site, flags=re.S)
        assert block and f"proxy_pass http://{upstream};" in block.group(1), location
    # A turn that reached a Rasa is never replayed by nginx (comments aside).
    assert "non_idempotent" not in re.sub(r"#.*", "", site)


@pytest.mark.skipif(not Path(NGINX).exists(), reason=f"no nginx at {NGINX}: `make nginx`")
def test_nginx_accepts_the_rendered_site(tmp_path):
    rendered = render_site(
        NGINX_SITE.read_text(),
        listen=18080,
        actions_listen=18054,
        rasa=[17001, 17002],
        actions=[17101, 17102],
        hub=17201,
    )
    result = nginx_test(tmp_path, rendered)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.skipif(not Path(NGINX).exists(), reason=f"no nginx at {NGINX}: `make nginx`")
def test_nginx_refuses_a_broken_site(tmp_path):
    """The check above can fail: a site with a typo does not pass ``nginx -t``."""
    broken = NGINX_SITE.read_text().replace("least_conn;", "least_connections;", 1)
    assert nginx_test(tmp_path, broken).returncode != 0


# --- containers --------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_file_has_the_reference_layout():
    services = compose()["services"]
    assert sorted(services) == sorted(
        [
            "postgres",
            "redis",
            "rasa-1",
            "rasa-2",
            "actions-1",
            "actions-2",
            "hub",
            "dispatcher-1",
            "dispatcher-2",
            "nginx",
        ]
    )
    # Only nginx is published, and only on the host's loopback.
    published = {name: s.get("ports", []) for name, s in services.items() if s.get("ports")}
    assert list(published) == ["nginx"]
    assert all(str(p).startswith("127.0.0.1:") for p in published["nginx"])
    for name in ("rasa-1", "rasa-2", "hub", "dispatcher-1", "dispatcher-2", "actions-1"):
        env = services[name]["environment"]
        assert env["CX_JOURNEY_URL"].startswith("postgresql://"), name
    for name in ("rasa-1", "rasa-2"):
        env = services[name]["environment"]
        assert env["CX_TRACKER_URL"].startswith("postgresql://")
        assert re.fullmatch(r"redis://(:\$\{[^}]+\}@)?redis:6379/\d+", env["CX_LOCK_URL"])
        assert env["CX_ACTION_URL"] == "http://nginx:5054/webhook"
        # The written endpoints.yml refers to ${CX_LOCK_PASSWORD}: Rasa refuses to start
        # when a variable it names is unset.
        lock = redis_lock_store(
            re.sub(r"\$\{[^}]*\}", "pw", env["CX_LOCK_URL"])
        )  # as compose fills it
        if "password" in lock:
            assert env[LOCK_PASSWORD_ENV] == "${CX_REDIS_PASSWORD:?set CX_REDIS_PASSWORD}"


def test_compose_file_takes_every_secret_from_the_environment():
    variable = r"\$\{\w+(:\?[^}]*)?\}"
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "TOKEN", "PASSWORD")):
                assert re.fullmatch(variable, str(value)), (name, key, value)
            # A password inside a URL is a variable too.
            userinfo = re.match(r"\w+://([^@/]*)@", str(value))
            if userinfo and ":" in userinfo.group(1):
                password = userinfo.group(1).split(":", 1)[1]
                assert re.fullmatch(variable, password), (name, key)


def test_compose_nginx_serves_deploy_nginx_cx_conf_with_service_names():
    """The container's site is cx.conf through the sed of its command: no loopback left."""
    nginx = compose()["services"]["nginx"]
    assert "./nginx/cx.conf:/etc/cx/cx.conf:ro" in nginx["volumes"]
    command = nginx["command"][-1]
    site = NGINX_SITE.read_text()
    for pattern, replacement in re.findall(r"-e 's/(.*?)/(.*?)/'", command):
        site = re.sub(pattern, replacement, site)
    assert "127.0.0.1" not in re.sub(r"#.*", "", site)
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", site, flags=re.S))
    servers = {name: re.findall(r"server ([\w.-]+:\d+)", body) for name, body in upstreams.items()}
    assert servers == {
        "cx_rasa": ["rasa-1:5005", "rasa-2:5005"],
        "cx_rasa_socketio": ["rasa-1:5005", "rasa-2:5005"],
        "cx_actions": ["actions-1:5055", "actions-2:5055"],
        "cx_hub": ["hub:8000"],
    }
    assert re.findall(r"listen ([\w.:]+);", site) == ["8080", "5054"]


def test_deploy_readme_explains_every_setting():
    readme = (DEPLOY / "README.md").read_text()
    for setting in (
        "CX_JOURNEY_URL",
        "CX_TRACKER_URL",
        "CX_LOCK_URL",
        "CX_LOCK_KEY_PREFIX",
        "CX_ACTION_URL",
        "CX_RASA_TOKEN",
        "CX_ACTION_SECRET",
        "TICKET_LOCK_LIFETIME",
        "sticky",
        "proxy_next_upstream",
    ):
        assert setting in readme, setting


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL is not set")
def test_a_live_turn_keeps_its_short_ticket_and_a_dead_servers_ticket_frees_the_conversation(
    tmp_path, monkeypatch
):
    """Two Rasa servers' lock stores on one Redis, tickets of 2 s renewed every 0.5 s: a turn
    held for 2.5 lifetimes keeps the other server waiting; a server that dies holding a
    ticket (it stops renewing) keeps the conversation for at most a lifetime."""
    import asyncio

    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.rasa.lock_store import RenewingRedisLockStore

    monkeypatch.setenv("CX_ACTION_SECRET", "x")
    prefix = f"cxtest{uuid.uuid4().hex[:8]}"
    s = settings(
        tmp_path,
        CX_LOCK_URL=os.environ["TEST_REDIS_URL"],
        CX_LOCK_KEY_PREFIX=prefix,
        CX_LOCK_LIFETIME="2",  # the least it takes
    )
    config = read_endpoint_config(str(endpoints_file(s)), "lock_store")
    live, other = LockStore.create(config), LockStore.create(config)
    assert isinstance(live, RenewingRedisLockStore) and live.lifetime == 2.0

    async def scenario():
        order = []

        async def long_turn():
            async with live.lock("c-1", wait_time_in_seconds=0.05):
                order.append("live starts")
                await asyncio.sleep(5)  # two and a half lifetimes
                order.append("live ends")

        async def second_turn():
            await asyncio.sleep(0.2)
            async with other.lock("c-1", wait_time_in_seconds=0.05):
                order.append("other starts")

        await asyncio.gather(long_turn(), second_turn())
        assert order == ["live starts", "live ends", "other starts"]

        # A server that dies mid-turn: its ticket is issued and never renewed or given back.
        dead = LockStore.create(config)
        dead.issue_ticket("c-2", dead.lifetime)  # and nothing more: no renewal, no cleanup
        started = time.monotonic()
        async with other.lock("c-2", wait_time_in_seconds=0.05):
            waited = time.monotonic() - started
        assert 1.0 < waited < 2.5, waited

    try:
        asyncio.run(scenario())
    finally:
        live.red.delete(f"{prefix}:lock:c-1", f"{prefix}:lock:c-2")
