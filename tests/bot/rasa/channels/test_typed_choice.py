"""bot/rasa/channels/typed_choice.py: which buttons are on offer, read from a real Rasa tracker."""

from __future__ import annotations

from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.choices import Button
from bot.rasa.channels import typed_choice

CREDIT = {"title": "Store credit instead", "payload": '/choose_option{"option":"store_credit"}'}
PERSON = {"title": "Talk to a person", "payload": "/request_human"}
RATING_5 = {"title": "5 (great)", "payload": '/rate_conversation{"rating":"5"}'}


def tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("someone", list(events))


def said(text: str, buttons: list[dict] | None = None) -> BotUttered:
    return BotUttered(text, {"buttons": buttons} if buttons else {})


def test_the_buttons_are_those_of_the_bot_messages_since_the_customer_spoke():
    t = tracker(
        UserUttered("refund ORD-10005"),
        said("Thanks, Li: that's you confirmed."),
        said("Here's what we can do:", [CREDIT, PERSON]),
        said("Anything else?", [PERSON]),  # shown twice: counted once
        ActionExecuted("action_listen"),
    )
    assert typed_choice.offered_buttons(t) == [
        Button(CREDIT["title"], CREDIT["payload"]),
        Button(PERSON["title"], PERSON["payload"]),
    ]
    assert typed_choice.typed_choice("the store credit is fine", t).payload == CREDIT["payload"]


def test_buttons_of_an_earlier_turn_are_no_longer_on_offer():
    t = tracker(
        said("How did I do?", [RATING_5]),
        UserUttered("how much are your plans?"),
        said("Here are our plans."),
    )
    assert typed_choice.offered_buttons(t) == []
    assert typed_choice.typed_choice("5", t) is None


def test_a_new_session_ends_the_offer():
    t = tracker(said("How did I do?", [RATING_5]), SessionStarted())
    assert typed_choice.typed_choice("5", t) is None


def test_a_click_or_a_paused_chat_is_left_alone():
    offered = [said("Here's what we can do:", [CREDIT, PERSON])]
    assert typed_choice.typed_choice(CREDIT["payload"], tracker(*offered)) is None
    assert (
        typed_choice.typed_choice("store credit", tracker(*offered, ConversationPaused())) is None
    )
    assert typed_choice.typed_choice("store credit", None) is None


def test_install_is_idempotent(monkeypatch):
    stock = getattr(MessageProcessor.parse_message, "__wrapped__", MessageProcessor.parse_message)
    monkeypatch.setattr(MessageProcessor, "parse_message", stock)
    original = MessageProcessor.parse_message
    typed_choice.install()
    patched = MessageProcessor.parse_message
    typed_choice.install()
    assert MessageProcessor.parse_message is patched is not original
    assert patched.__wrapped__ is original
