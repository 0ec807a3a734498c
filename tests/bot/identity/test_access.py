"""What each trust level may see and do (bot/config/access.yml, bot/identity/access.py)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError
from bot.identity.access import ACCESS_FILE, ANYONE, TRACKER, VERIFIED_ONLY, AccessRules
from bot.routing import RoutingMap


def test_every_need_has_a_level_and_personal_needs_ask_for_verification():
    rules = AccessRules.load(known_needs=RoutingMap.load())
    assert rules.level("order_status") == TRACKER
    assert rules.level("ask_pricing") == ANYONE
    for need in ("cancel_order", "request_refund", "change_delivery_address", "request_invoice"):
        assert rules.level(need) == VERIFIED_ONLY
    assert rules.level("a_need_nobody_listed") == VERIFIED_ONLY  # safe by default
    assert rules.option_needs_verification("delay_cancel_refund")
    assert rules.option_needs_verification("an_option_nobody_listed")
    assert not rules.option_needs_verification("sales_callback")


def write(tmp_path, text: str):
    path = tmp_path / "access.yml"
    path.write_text(text)
    return path


def test_errors_name_the_file_and_the_key(tmp_path):
    good = ACCESS_FILE.read_text()
    bad_level = write(tmp_path, good.replace("order_status: tracker", "order_status: everyone"))
    with pytest.raises(ConfigError, match=r"access.yml: needs.order_status: 'everyone'"):
        AccessRules.load(bad_level)
    missing = write(tmp_path, good.replace("  order_status: tracker\n", ""))
    with pytest.raises(ConfigError, match="no level for order_status"):
        AccessRules.load(missing, known_needs=RoutingMap.load())
    bad_rate = write(
        tmp_path, good.replace("lookups_per_conversation: 5/1h", "lookups_per_conversation: lots")
    )
    with pytest.raises(ConfigError, match="limits.lookups_per_conversation"):
        AccessRules.load(bad_rate)
