"""A typed reply to buttons is parsed as the button it names, on every channel.

When the assistant's latest turn (its messages since the customer's previous message)
showed buttons and the customer types instead of clicking ("the store credit is fine",
"the second one", "5 please"), bot/choices.py decides which offered button, if any, the
text names. If one, the message is parsed as that button's payload by Rasa's own parsing
(the same intent and entities a click gives); the ``UserUttered`` event keeps the
customer's own words as its text, and its parse data carries
``"typed_choice": {"title": ..., "payload": ...}`` for CX review and tests. Otherwise NLU
reads the text as a new message, unchanged.

A message that answers "Just to check: deliver ORD-10004 Monday 14 December?" with another
day or address ("make it the 16th") is parsed as that change again, with the new detail
(bot/support/confirm.py: ``correction_to``).

A short follow-up right after a policy question was answered ("and after 30 days?") is
read as that question again, and "leave it, I'll keep it" while we ask for a detail lets the
request go (bot/nlp/follow_ups.py). Any other message of several clauses is also read clause by clause (bot/nlp/clauses.py):
the clearest need wins when the whole is unsure, and the other needs it raised ride along as
``other_needs`` in the parse data.

Every input channel (REST, the website chat, Slack) hands its message to
``MessageProcessor.handle_message`` -> ``log_message`` -> ``_handle_message_with_tracker``
-> ``parse_message(message, tracker)``, so one patch of ``parse_message`` covers them all.
``POST /model/parse`` calls it without a tracker and is left as it was: no conversation,
no buttons. Only buttons the conversation showed can be reached, so a typed reply never
grants an option that was not offered.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from bot.choices import Button, resolve
from bot.nlp.clauses import ASKS_FOR_A_PERSON, SMALL_TALK, asks_for_a_person, clauses, combine
from bot.nlp.follow_ups import follow_up_of, lets_it_go
from bot.nlp.questions import STATUS, status_question
from bot.support.confirm import correction_to
from bot.support.parsing import with_emails_written_in

log = logging.getLogger(__name__)

_INSTALLED_MARK = "_cx_typed_choice"
MARKER = "typed_choice"  # the parse data key that says a typed reply was taken as a button


def offered_buttons(tracker: Any) -> list[Button]:
    """The buttons of the assistant's messages since the customer's previous message.

    Stops at the previous message, a restart or a new session: buttons shown before those
    are no longer on offer. A payload shown twice counts once (the first title wins).
    """
    from rasa.shared.core.events import BotUttered, Restarted, SessionStarted, UserUttered

    turn: list[BotUttered] = []
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, Restarted, SessionStarted)):
            break
        if isinstance(event, BotUttered):
            turn.append(event)
    buttons: list[Button] = []
    seen: set[str] = set()
    for event in reversed(turn):
        for b in (event.data or {}).get("buttons") or []:
            if not isinstance(b, dict):
                continue
            title, payload = b.get("title"), b.get("payload")
            if isinstance(title, str) and isinstance(payload, str) and payload not in seen:
                seen.add(payload)
                buttons.append(Button(title, payload))
    return buttons


def typed_choice(text: Any, tracker: Any) -> Button | None:
    """The button ``text`` chooses from the tracker's latest bot turn, if any."""
    if tracker is None or not isinstance(text, str) or text.lstrip().startswith("/"):
        return None
    if tracker.is_paused():
        return None  # a person has the chat: they read the customer, not the bot's buttons
    buttons = offered_buttons(tracker)
    return resolve(text, buttons) if buttons else None


def previous_intent(tracker: Any) -> str | None:
    """What the customer asked last in this session: the intent of their latest message
    that was more than a detail or a yes ("what would it cost me to cancel?", then
    "ORD-10007" when asked, then "and if I wait until the contract ends?")."""
    if tracker is None:
        return None
    from rasa.shared.core.events import Restarted, SessionStarted, UserUttered

    for event in reversed(tracker.events):
        if isinstance(event, (Restarted, SessionStarted)):
            return None
        if isinstance(event, UserUttered):
            intent = (event.intent or {}).get("name")
            if intent not in ("inform", "affirm"):
                return intent
    return None


def correction(text: Any, tracker: Any) -> str | None:
    """The change awaiting a yes that ``text`` corrects with a new day or address, if any."""
    if tracker is None or not isinstance(text, str) or text.lstrip().startswith("/"):
        return None
    if tracker.is_paused():
        return None
    buttons = offered_buttons(tracker)
    return correction_to(text, buttons) if buttons else None


@functools.lru_cache(maxsize=1)
def _is_need():
    from bot.routing import RoutingMap

    routing = RoutingMap.load()
    return lambda intent: routing.department_of(intent) is not None


async def _by_clauses(original: Any, processor: Any, message: Any, parse_data: dict) -> dict:
    """``parse_data`` with the clearest clause's need when the whole message is unsure,
    and the other needs its clauses raised as ``other_needs``."""
    from rasa.core.channels.channel import UserMessage

    parts_text = clauses(message.text)
    if not parts_text or (message.text or "").lstrip().startswith("/"):
        return parse_data
    parts = []
    for text in parts_text:
        clause = UserMessage(text, None, message.sender_id, input_channel=message.input_channel)
        parts.append({**await original(processor, clause, None, True), "text": text})
    instead, others = combine(parse_data, parts, _is_need())
    if instead is not None:
        parse_data["intent"] = instead
        parse_data["read_by_clauses"] = True
    if others:
        parse_data["other_needs"] = others
    return parse_data


async def _parse_written_in(
    original: Any, processor: Any, message: Any, tracker: Any, only_output_properties: bool
) -> dict:
    """NLU's parse of ``message``, with an email written out ("omar at example dot com") read
    as the address it spells; the parse data keeps the customer's own words as its text."""
    from rasa.core.channels.channel import UserMessage

    written_in = with_emails_written_in(message.text)
    if written_in == message.text:
        return await original(processor, message, tracker, only_output_properties)
    spelled = UserMessage(
        written_in,
        message.output_channel,
        message.sender_id,
        input_channel=message.input_channel,
        message_id=message.message_id,
        metadata=message.metadata,
    )
    parse_data = await original(processor, spelled, tracker, only_output_properties)
    parse_data["text"] = message.text
    return parse_data


def read_in_context(parse_data: dict, text: Any, tracker: Any) -> bool:
    """Re-read a message in its conversation; True if its intent changed (and why, under
    ``MARKER``): a correction of a change awaiting its yes, a follow-up of the question
    just answered, a question whether an order was delivered, a plain request for a person,
    or a way out of a form."""
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence") or 0.0
    if (corrected := correction(text, tracker)) is not None:
        # "hmm no, make that 16 December" while "Just to check: ... Monday 14th?" waits.
        parse_data["intent"] = {"name": corrected, "confidence": 1.0}
        parse_data[MARKER] = {"corrects": corrected}
        return True
    if (followed := follow_up_of(text, previous_intent(tracker), name, confidence)) is not None:
        # "and after 30 days?" right after the refund policy: more of that question.
        parse_data["intent"] = {"name": followed, "confidence": 1.0}
        parse_data[MARKER] = {"follows_up": followed}
        return True
    if status_question(text, name):
        # "was ORD-10003 delivered?": where it is, not a missing-parcel report.
        parse_data["intent"] = {"name": STATUS, "confidence": 1.0}
        parse_data[MARKER] = {"status_question": name}
        return True
    paused = tracker is not None and tracker.is_paused()
    if name not in ASKS_FOR_A_PERSON and not paused and asks_for_a_person(text):
        # "I want to speak to someone about being charged twice": a person, who gets the
        # charge as context (the transcript), rather than the charge flow.
        parse_data["intent"] = {"name": "request_human", "confidence": 1.0}
        parse_data[MARKER] = {"asks_for_a_person": name}
        return True
    if (
        tracker is not None
        and tracker.active_loop_name
        and lets_it_go(text, name, confidence, SMALL_TALK)
    ):
        # "actually no, leave it, I'll keep it" while we ask for a detail.
        parse_data["intent"] = {"name": "deny", "confidence": 1.0}
        parse_data[MARKER] = {"lets_it_go": True}
        return True
    return False


def install() -> None:
    """Parse messages in their conversation (idempotent): a typed reply to buttons as the
    chosen button's payload, else NLU's reading re-read in context and clause by clause."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor.parse_message, _INSTALLED_MARK, False):
        return
    original = MessageProcessor.parse_message

    @functools.wraps(original)
    async def parse_message(
        self: Any, message: Any, tracker: Any = None, only_output_properties: bool = True
    ) -> dict[str, Any]:
        choice = typed_choice(message.text, tracker)
        if choice is None:
            parse_data = await _parse_written_in(
                original, self, message, tracker, only_output_properties
            )
            if read_in_context(parse_data, message.text, tracker):
                return parse_data
            return await _by_clauses(original, self, message, parse_data)
        from rasa.core.channels.channel import UserMessage

        clicked = UserMessage(
            choice.payload,
            message.output_channel,
            message.sender_id,
            input_channel=message.input_channel,
            message_id=message.message_id,
            metadata=message.metadata,
        )
        parse_data = await original(self, clicked, tracker, only_output_properties)
        parse_data["text"] = message.text  # what the customer typed, never the raw payload
        parse_data[MARKER] = {"title": choice.title, "payload": choice.payload}
        log.debug("typed reply taken as the button %r", choice.title)
        return parse_data

    setattr(parse_message, _INSTALLED_MARK, True)
    MessageProcessor.parse_message = parse_message
