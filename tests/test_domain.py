"""The domain, the rules and the code agree with each other."""

import re
from pathlib import Path

import yaml

from bot.routing import RoutingMap

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())


# Names that look like responses but are not: Rasa's key, in a bot event's metadata, for the
# response the message came from.
NOT_RESPONSES = {"utter_action"}


def test_every_response_the_code_names_exists_in_the_domain():
    named = set()
    for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "actions").rglob("*.py")):
        named |= set(re.findall(r'"(utter_[a-z_]+)"', path.read_text())) - NOT_RESPONSES
    assert named, "expected the code to name responses"
    assert named - set(DOMAIN["responses"]) == set()


def test_every_need_is_an_intent_with_rules():
    rules = (ROOT / "data" / "rules" / "needs.yml").read_text()
    for need in RoutingMap.load():
        assert need in DOMAIN["intents"], need
        assert f"- intent: {need}\n" in rules, need


def test_no_secrets_in_committed_config():
    for name in ("credentials.yml", "endpoints.yml"):
        text = (ROOT / name).read_text()
        assert not re.search(r"(token|secret|password)\s*:\s*['\"]?[A-Za-z0-9]{8,}", text, re.I), (
            name
        )
