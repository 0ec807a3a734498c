from datetime import datetime, time

import pytest
import yaml

from bot.config import ConfigError
from bot.departments import DEPARTMENTS_FILE, Department, MissingSecretError, load_departments


def test_promise_inside_working_hours_is_the_service_level():
    billing = load_departments()["billing"]
    assert billing.promise(datetime(2025, 3, 12, 10, 0)) == "within 24 hours"


def test_promise_outside_hours_names_when_the_team_opens():
    billing = load_departments()["billing"]  # Mon-Fri 09:00-17:00
    assert (
        billing.promise(datetime(2025, 3, 12, 20, 0))
        == "tomorrow from 09:00, within 24 hours of opening"
    )
    assert (
        billing.promise(datetime(2025, 3, 15, 11, 0))
        == "Monday from 09:00, within 24 hours of opening"
    )  # Saturday
    assert (
        billing.promise(datetime(2025, 3, 12, 7, 30))
        == "today from 09:00, within 24 hours of opening"
    )


def test_bad_departments_file_names_the_key(tmp_path):
    path = tmp_path / "departments.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "departments": {
                    "sales": {
                        "title": "t",
                        "channel": "c",
                        "sla_hours": 4,
                        "hours": {"days": ["mon"], "start": "9am", "end": "18:00"},
                    }
                }
            }
        )
    )
    with pytest.raises(ConfigError, match=r"departments\.sales\.hours\.start: expected HH:MM"):
        load_departments(path)


def _departments_file(tmp_path, **billing_extra):
    billing = {
        "title": "our billing team",
        "channel": "by email",
        "sla_hours": 24,
        "hours": {"days": ["mon"], "start": "09:00", "end": "17:00"},
        **billing_extra,
    }
    path = tmp_path / "departments.yml"
    path.write_text(yaml.safe_dump({"departments": {"billing": billing}}))
    return path


def test_every_shipped_department_posts_to_the_hub_inbox_with_a_secret_from_the_environment():
    departments = load_departments()
    assert set(departments) == {"sales", "billing", "delivery", "support"}
    for name, department in departments.items():
        assert department.webhook_url == f"http://127.0.0.1:8000/api/departments/{name}/handoffs"
        assert department.secret_env == f"CX_WEBHOOK_SECRET_{name.upper()}"
    text = DEPARTMENTS_FILE.read_text()
    assert text.count("{hub_url}/api/departments/") == 4  # the port is not hard-coded


def test_hub_url_fills_the_placeholder():
    departments = load_departments(hub_url="http://127.0.0.1:8123/")
    assert (
        departments["billing"].webhook_url
        == "http://127.0.0.1:8123/api/departments/billing/handoffs"
    )


def test_a_department_s_own_system_and_secret_variable(tmp_path):
    path = _departments_file(
        tmp_path,
        webhook={"url": "https://billing.example.com/cx", "secret_env": "BILLING_HOOK_KEY"},
    )
    billing = load_departments(path, hub_url="http://ignored:1")["billing"]
    assert billing.webhook_url == "https://billing.example.com/cx"
    assert billing.secret_env == "BILLING_HOOK_KEY"


def test_without_a_webhook_key_a_department_uses_the_hub_inbox(tmp_path):
    billing = load_departments(_departments_file(tmp_path), hub_url="http://127.0.0.1:9000")[
        "billing"
    ]
    assert billing.webhook_url == "http://127.0.0.1:9000/api/departments/billing/handoffs"
    assert billing.secret_env == "CX_WEBHOOK_SECRET_BILLING"


@pytest.mark.parametrize(
    "webhook, message",
    [
        ("https://x", r"departments\.billing\.webhook: expected a mapping"),
        ({"url": "ftp://x/y"}, r"departments\.billing\.webhook\.url: expected an http\(s\) URL"),
        ({"url": "/relative"}, r"departments\.billing\.webhook\.url: expected an http\(s\) URL"),
        ({"url": 5}, r"departments\.billing\.webhook\.url: expected str"),
        (
            {"url": "{hub}/api/departments/billing/handoffs"},
            r"departments\.billing\.webhook\.url: the only placeholder allowed is \{hub_url\}",
        ),
        (
            {"secret_env": "hunter2-the-actual-secret"},
            r"departments\.billing\.webhook\.secret_env: expected the NAME of an environment variable",
        ),
        ({"secret": "x"}, r"departments\.billing\.webhook\.secret: unknown key"),
    ],
)
def test_bad_webhook_names_the_file_and_key(tmp_path, webhook, message):
    path = _departments_file(tmp_path, webhook=webhook)
    with pytest.raises(ConfigError, match=message) as error:
        load_departments(path)
    assert str(path) in str(error.value)


def test_departments_built_in_code_keep_working_with_webhook_defaults():
    department = Department("sales", "our sales team", "by phone", 4, ("mon",), time(9), time(18))
    assert department.webhook_url == "http://127.0.0.1:8000/api/departments/sales/handoffs"
    assert department.secret_env == "CX_WEBHOOK_SECRET_SALES"
    assert department.promise(datetime(2025, 3, 10, 10, 0)) == "within 4 hours"


def test_the_secret_comes_from_the_environment_and_a_missing_one_names_the_variable():
    billing = load_departments()["billing"]
    assert billing.webhook_secret({"CX_WEBHOOK_SECRET_BILLING": "abc"}) == "abc"
    for env in ({}, {"CX_WEBHOOK_SECRET_BILLING": ""}):
        with pytest.raises(MissingSecretError, match="CX_WEBHOOK_SECRET_BILLING"):
            billing.webhook_secret(env)
