from datetime import datetime

import pytest
import yaml

from bot.config import ConfigError
from bot.departments import load_departments


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
