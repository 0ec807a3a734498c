"""The website chat's live state: the customer's typing lapses, seen marks are kept, bounded."""

from __future__ import annotations

from bot.rasa.channels.live import TYPING_FRESH_SECONDS, LiveState


class Seconds:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_typing_shows_until_the_customer_stops_or_goes_quiet():
    clock = Seconds()
    live = LiveState(clock)
    assert not live.is_customer_typing("a")
    live.customer_typing("a", True)
    assert live.is_customer_typing("a") and not live.is_customer_typing("b")
    clock.t += TYPING_FRESH_SECONDS - 1
    assert live.is_customer_typing("a")
    live.customer_typing("a", True)  # typed on: fresh again
    clock.t += TYPING_FRESH_SECONDS - 1
    assert live.is_customer_typing("a")
    clock.t += 2  # nothing more from the widget: it lapsed
    assert not live.is_customer_typing("a")
    live.customer_typing("a", True)
    live.customer_typing("a", False)  # sent, or emptied the box
    assert not live.is_customer_typing("a")


def test_seen_keeps_the_newest_mark_per_conversation():
    live = LiveState(Seconds())
    assert live.seen_up_to("a") is None
    live.seen("a", "m1")
    live.seen("a", "m2")
    live.seen("b", "x1")
    assert (live.seen_up_to("a"), live.seen_up_to("b")) == ("m2", "x1")


def test_only_so_many_conversations_are_kept_the_oldest_go_first():
    live = LiveState(Seconds(), max_conversations=2)
    for name in ("a", "b", "c"):
        live.seen(name, name + "1")
        live.customer_typing(name, True)
    assert live.seen_up_to("a") is None and live.seen_up_to("c") == "c1"
    assert not live.is_customer_typing("a") and live.is_customer_typing("b")
