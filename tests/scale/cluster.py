"""The scale-out layout on this machine: several Rasa servers behind nginx, for real.

Starts what deploy/README.md describes, on free loopback ports: PostgreSQL and Redis (if
down), scratch PostgreSQL databases for the journey and the tracker store (dropped after),
a Redis key prefix of its own, N Rasa servers sharing one model, N action servers, the hub,
N handoff dispatchers, a department's webhook receiver (tests/fakes/department.py, which
journals every raw delivery), and nginx (Debian's) in the foreground with everything of its
own under a temporary directory, configured from deploy/nginx/cx.conf itself.

Used by tests/scale/test_scale_out.py (`make scale-test`) and bench/scale.py.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.child_process import Process
from bot.local_setup import read_secrets
from bot.processes import BIN, scale_out_processes
from bot.runner import ensure_secrets, prepare_databases, wait_ready
from bot.settings import ROOT, Settings
from tests.e2e.conftest import free_port, latest_model

NGINX_SITE = ROOT / "deploy" / "nginx" / "cx.conf"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NGINX = os.environ.get("CX_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
DEPARTMENTS = ("sales", "billing", "delivery", "support")


# --- the services -------------------------------------------------------------------------


def ensure_services() -> None:
    """Start the local PostgreSQL and Redis if they do not answer (as .ci/run does)."""
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        print(f"==> Starting PostgreSQL {version}", flush=True)
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True
        )
    ping = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True)
    if ping.stdout.strip() != "PONG":
        print("==> Starting Redis", flush=True)
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            check=True,
        )
        for _ in range(50):
            if (
                subprocess.run(
                    ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True
                ).returncode
                == 0
            ):
                break
            time.sleep(0.1)


@contextmanager
def scratch_databases(server_url: str, *kinds: str) -> Iterator[dict[str, str]]:
    """Empty databases ``cx_scale_<kind>_<pid>`` on the server, dropped afterwards: their URLs."""
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    names = {kind: f"cx_scale_{kind}_{os.getpid()}" for kind in kinds}
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = make_url(server_url)
        yield {
            kind: base.set(database=name).render_as_string(hide_password=False)
            for kind, name in names.items()
        }
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- nginx ------------------------------------------------------------------------------------


def render_site(
    site: str,
    *,
    listen: int,
    actions_listen: int,
    rasa: Sequence[int],
    actions: Sequence[int],
    hub: int,
) -> str:
    """deploy/nginx/cx.conf with this run's ports: the upstreams' servers and the listens.

    Each upstream's first ``server`` line is the pattern (its parameters are kept), one
    line per port; the first ``listen`` is the public one, the second the action servers'.
    """
    ports = {"cx_rasa": rasa, "cx_rasa_socketio": rasa, "cx_actions": actions, "cx_hub": [hub]}

    def upstream(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        out, done = [], False
        for line in body.split("\n"):
            server = re.match(r"^(\s*)server 127\.0\.0\.1:\d+(.*);$", line)
            if not server:
                out.append(line)
            elif not done:  # the first server line stands for all of this run's
                indent, params = server.groups()
                out += [f"{indent}server 127.0.0.1:{port}{params};" for port in ports[name]]
                done = True
        if not done:
            raise ValueError(f"upstream {name} in {NGINX_SITE} has no 127.0.0.1 server line")
        return f"upstream {name} {{" + "\n".join(out) + "}"

    rendered, count = re.subn(r"upstream (\w+) \{(.*?)\}", upstream, site, flags=re.S)
    if count != len(ports):
        raise ValueError(f"{NGINX_SITE}: expected {len(ports)} upstreams, found {count}")
    listens = iter((listen, actions_listen))
    rendered, count = re.subn(
        r"listen 127\.0\.0\.1:\d+;", lambda _: f"listen 127.0.0.1:{next(listens)};", rendered
    )
    if count != 2:
        raise ValueError(f"{NGINX_SITE}: expected 2 listen lines, found {count}")
    return rendered


def nginx_main_conf(work: Path, site: Path) -> str:
    """A whole nginx.conf around the site: every file nginx writes stays under ``work``."""
    # As root, nginx's workers would become "nobody", who cannot enter a private temp dir.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {work / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
error_log {work / "error.log"} warn;
events {{ worker_connections 2048; }}
http {{
    # Which Rasa answered each request, and whether nginx had to try another.
    log_format cx '$msec $request_method $uri $status $upstream_addr $upstream_status $request_time';
    access_log {work / "access.log"} cx;
{temp}    include {site};
}}
"""


def nginx_process(work: Path, site_text: str, ready_url: str | None) -> Process:
    """nginx as a foreground child: its own prefix, config, pid and logs under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    site = work / "cx.conf"
    site.write_text(site_text)
    conf = work / "nginx.conf"
    conf.write_text(nginx_main_conf(work, site))
    return Process(
        "nginx",
        [
            NGINX,
            "-p",
            str(work),
            "-c",
            str(conf),
            "-e",
            str(work / "error.log"),
            "-g",
            f"daemon off; pid {work / 'nginx.pid'};",
        ],
        ready_url,
        dict(os.environ),
        work / "nginx.out",
    )


def nginx_test(work: Path, site_text: str) -> subprocess.CompletedProcess:
    """``nginx -t`` on the rendered configuration (no port is bound)."""
    proc = nginx_process(work, site_text, None)
    return subprocess.run(proc.argv[:-2] + ["-t"], capture_output=True, text=True)


# --- the cluster ------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The running layout: where clients talk (nginx) and every process by name."""

    settings: Settings
    url: str  # nginx
    procs: list[Process]
    journal: Path  # the department receiver's record of every raw delivery
    work: Path
    lock_prefix: str
    rasa: list[Process] = field(default_factory=list)
    dispatchers: list[Process] = field(default_factory=list)

    def kill(self, proc: Process) -> float:
        """SIGKILL ``proc`` (its whole process group): no goodbye, as a crash. Returns when."""
        os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(10)
        return time.monotonic()


@contextmanager
def cluster(
    work: Path,
    *,
    rasa: int = 2,
    actions: int = 2,
    dispatchers: int = 2,
    actions_via_nginx: bool = True,
    hub: bool = True,
    extra_env: dict[str, str] | None = None,
    department_seconds: float = 0.0,
) -> Iterator[Cluster]:
    """Start the layout on PostgreSQL and Redis; stop everything and drop its databases after.

    ``department_seconds``: the department holds each delivery that long before answering
    (a slow system), so dispatchers spend most of their time inside a call.
    """
    ensure_services()
    run = uuid.uuid4().hex[:8]
    lock_prefix = f"cxscale{run}"  # Rasa takes letters and digits only
    with scratch_databases(POSTGRES_URL, "journey", "tracker") as urls:
        ports = {
            "nginx": free_port(),
            "nginx_actions": free_port(),
            "hub": free_port(),
            "receiver": free_port(),
        }
        rasa_ports = [free_port() for _ in range(rasa)]
        action_ports = [free_port() for _ in range(actions)]
        env = {
            "CX_VAR_DIR": str(work / "var"),
            "CX_RASA_PORT": str(rasa_ports[0]),
            "CX_ACTION_PORT": str(action_ports[0]),
            "CX_HUB_PORT": str(ports["hub"]),
            "CX_MAIL_PORT": str(free_port()),
            "CX_JOURNEY_URL": urls["journey"],
            "CX_TRACKER_URL": urls["tracker"],
            "CX_LOCK_URL": REDIS_URL,
            "CX_LOCK_KEY_PREFIX": lock_prefix,
        }
        settings, _ = ensure_secrets(Settings.from_env(env))
        prepare_databases(settings)
        saved = dict(os.environ)
        try:
            # Every client is 127.0.0.1 (and so is nginx): per-address limits would measure
            # the limiter. No Slack here.
            for key in ("CX_RATE_IP", "CX_RATE_CONNECT_IP", "CX_RATE_CONVERSATION"):
                os.environ[key] = "off"
            for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL"):
                os.environ.pop(key, None)
            os.environ.update(extra_env or {})
            procs = scale_out_processes(
                settings,
                rasa_ports=rasa_ports,
                action_ports=action_ports,
                dispatchers=dispatchers,
                action_url=(
                    f"http://127.0.0.1:{ports['nginx_actions']}/webhook"
                    if actions_via_nginx
                    else None
                ),
                # CX_SCALE_MODEL: a given model instead of the newest in models/.
                model=os.environ.get("CX_SCALE_MODEL") or latest_model(),
                hub=hub,
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        secrets = read_secrets(settings.var_dir / "secrets.env")
        journal = work / "deliveries.jsonl"
        receiver = Process(
            "department receiver",
            [
                str(BIN / "python"),
                "-m",
                "tests.fakes.department",
                "--port",
                str(ports["receiver"]),
                "--journal",
                str(journal),
                "--secrets",
                json.dumps({d: [secrets[f"CX_WEBHOOK_SECRET_{d.upper()}"]] for d in DEPARTMENTS}),
                *(
                    # Request numbers to hold: all of them, for any run's handoffs.
                    ["--hang-on", ",".join(map(str, range(1, 1001)))]
                    + ["--hang-seconds", str(department_seconds)]
                    if department_seconds
                    else []
                ),
            ],
            None,
            dict(os.environ),
            settings.var_dir / "logs" / "receiver.log",
        )
        for proc in procs:
            if proc.name.startswith("handoff dispatcher"):
                # Departments' webhooks are "{hub_url}/api/departments/...": for the
                # dispatchers the "hub" is the receiver, which journals each raw request.
                proc.env = {**proc.env, "CX_HUB_PORT": str(ports["receiver"])}
            elif proc.name == "hub":
                # The hub reaches Rasa's API through nginx, like any client.
                nginx_url = f"http://127.0.0.1:{ports['nginx']}"
                proc.env = {
                    **proc.env,
                    "CX_RASA_API_URL": nginx_url,
                    "CX_WIDGET_RASA_URL": nginx_url,
                }
        site = render_site(
            NGINX_SITE.read_text(),
            listen=ports["nginx"],
            actions_listen=ports["nginx_actions"],
            rasa=rasa_ports,
            actions=action_ports,
            hub=ports["hub"],
        )
        nginx = nginx_process(work / "nginx", site, f"http://127.0.0.1:{ports['nginx']}/version")
        everything = [receiver, *procs, nginx]
        try:
            for proc in everything:
                proc.start(settings.root)
            wait_ready(everything, timeout=400)
            yield Cluster(
                settings=settings,
                url=f"http://127.0.0.1:{ports['nginx']}",
                procs=everything,
                journal=journal,
                work=work,
                lock_prefix=lock_prefix,
                rasa=[p for p in procs if p.name.startswith("Rasa server")],
                dispatchers=[p for p in procs if p.name.startswith("handoff dispatcher")],
            )
        finally:
            for proc in reversed(everything):
                proc.stop()
            _forget_locks(lock_prefix)


def _forget_locks(prefix: str) -> None:
    """Delete this run's lock keys from Redis (normally none are left: Rasa deletes them)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


if __name__ == "__main__":  # a quick look: start it, print where, wait for Ctrl-C
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, cluster(Path(tmp)) as c:
        print(f"nginx at {c.url}; Ctrl-C stops", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            sys.exit(0)
