"""Actions that note, complete and serve a customer's need."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import (
    desk,
    identify_from_channel,
    identity_of,
    latest_entity,
    need_context,
    record_handoff,
    record_turn,
    send,
    where_of,
)
from actions.identity import email_in_message, identify_by_detail, verify_from_message
from actions.proactive import tell_waiting_news
from bot.identity.access import ANYONE
from bot.journey.signals import Signals
from bot.support.needs import PERSON_NEEDS
from bot.support.parsing import address_in, has_town_or_postcode, normalize_order_id, parse_date
from bot.support.replies import NEED_LABELS, Reply

DETAIL_SLOTS = ("order_id", "customer_id", "email", "new_address", "new_date")
# Set with customer_id when a check verifies the visitor; never asked for themselves.
IDENTITY_SLOTS = ("customer_name", "verified_by")
# A message asking how something works rather than asking for it ("how long do I have to
# return something?", "if I moved house could I still change the address?").
HOW_IT_WORKS_QUESTION = re.compile(
    r"^\s*(?:how|what|can i|could i|would i|do i|do you|is it|if i)\b"
    r"|\bjust (?:wondering|asking|checking|curious)\b",
    re.IGNORECASE,
)
# Questions answered for each order named in one message, up to so many orders.
ORDER_QUESTIONS = ("order_status", "order_late")
MAX_ORDERS_AT_ONCE = 3
# The option that calls an anonymous visitor back, once they give an email.
CALLBACK = "sales_callback"
# What an answer to "what's the new address?" is read as when it is one.
ADDRESS_ANSWER_INTENTS = ("inform", "change_delivery_address", "nlu_fallback", "out_of_scope")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# "and my other order?", "what about the other one": not the order we were talking about.
# Not "another delivery date" or "send another one" (a replacement): those keep the order.
ANOTHER_ORDER = re.compile(
    r"\b(?:(?:my|the|our)\s+other|another|second|different)\s+(?:order|parcel|package)\b"
    r"|\bthe other one\b",
    re.IGNORECASE,
)


class ActionNoteNeed(Action):
    """Remember which need the customer raised, and who they are when the channel says so."""

    def name(self) -> str:
        return "action_note_need"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        waiting = tracker.get_slot("need")
        if waiting and intent != waiting and self._a_question_on_the_way(tracker, intent):
            # "oh btw how much is express?" while we wait for the new address: answered,
            # and the form goes on asking for what the waiting need still lacks.
            touchpoint = record_turn(tracker, need=intent)
            signals = Signals.from_dict(touchpoint.signals)
            reply = desk().serve(need_context(tracker, intent, signals))
            record_handoff(touchpoint, reply)
            return send(reply, dispatcher)
        events = [SlotSet("need", intent)]
        others = [n for n in tracker.latest_message.get("other_needs") or [] if n != intent]
        if others:
            # "Two things: I was charged twice, and when is my chair arriving?"
            events.append(SlotSet("waiting_needs", others))
        if intent != waiting:
            # A new need starts from its own details ("actually forget the address, can it
            # come on the 17th?"); the same need said again keeps what it has.
            events += [SlotSet("new_address", None), SlotSet("new_date", None)]
            tracker.slots.update(new_address=None, new_date=None)
        events += identify_from_channel(tracker)
        events += self._another_order(tracker)
        if not identity_of(tracker).verified and latest_entity(tracker, "order_id"):
            # "Cancel ORD-10004, it's omar@example.com": the order with its email, said up
            # front, verifies them before anything is asked.
            verified = verify_from_message(tracker, dispatcher, codes=False, send_code=False)
            tracker.slots.update(verified)
            events += [SlotSet(name, value) for name, value in verified.items()]
        if (rule := self._rule_asked_about(tracker, intent)) is not None:
            # "how long do I have to return something?": the rule first, then (the form) the
            # question that starts it, which they are free to leave.
            dispatcher.utter_message(response="utter_how_it_works", rule=rule)
        record_turn(tracker, need=intent)
        # News a department had for them while they were away comes first, at any contact.
        events += tell_waiting_news(tracker, dispatcher, raised_a_need=True)
        return events + self._served_at_once(dispatcher, tracker, events)

    @staticmethod
    def _served_at_once(
        dispatcher: CollectingDispatcher, tracker: Tracker, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The need served in this very action when need_form would have nothing to ask
        (every detail it requires known and valid): what action_serve_need would have
        done after the form, then straight to listening, so the turn costs one remote
        call and one policy prediction instead of three and four. Nothing (the form takes
        over, as always) when there is something to ask, check or say first."""
        if tracker.active_loop or dispatcher.messages:
            # A form under way keeps its turn; anything said already (waiting news, how a
            # rule works, a verification) belongs in the transcript the desk reads, which
            # only Rasa writes, between this action and the next.
            return []
        for event in events:
            if event.get("event") == "slot":
                tracker.slots[event["name"]] = event["value"]
        validated = details_validated_up_front(tracker)
        if validated is None:
            return []
        tracker.slots.update(validated)
        completed = [SlotSet(slot, value) for slot, value in validated.items()]
        return completed + serve_noted_need(dispatcher, tracker) + [FollowupAction("action_listen")]

    @staticmethod
    def _another_order(tracker: Tracker) -> list[dict[str, Any]]:
        """A verified customer asking about their other order ("and my other order?"): the
        one other order when there is just one, else no order yet, so the form asks with
        their orders as buttons. Nothing for an order named in the message, or without a
        verified customer."""
        current = tracker.get_slot("order_id")
        text = tracker.latest_message.get("text") or ""
        identity = identity_of(tracker)
        if not (
            current and ANOTHER_ORDER.search(text) and identity.verified and identity.customer_id
        ):
            return []
        if latest_entity(tracker, "order_id"):
            return []
        others = [
            o.id for o in desk().backoffice.orders_of(identity.customer_id) if o.id != current
        ]
        chosen = others[0] if len(others) == 1 else None
        tracker.slots["order_id"] = chosen
        return [SlotSet("order_id", chosen)]

    @staticmethod
    def _rule_asked_about(tracker: Tracker, intent: str | None) -> str | None:
        """The rule of ``intent``'s policy when the message asks how it works with no
        detail to act on yet, else None."""
        text = tracker.latest_message.get("text") or ""
        if not HOW_IT_WORKS_QUESTION.search(text):
            return None
        if any(latest_entity(tracker, e) for e in ("order_id", "invoice_id", "email")):
            return None
        policy = desk().policies.policy_for(intent) if intent else None
        return policy.reason if policy is not None else None

    @staticmethod
    def _a_question_on_the_way(tracker: Tracker, intent: str | None) -> bool:
        """Whether ``intent``, raised while a need's form waits for a detail, is a question
        to answer on the way: open to anyone, needing no detail, changing nothing."""
        if (tracker.active_loop or {}).get("name") != "need_form" or not intent:
            return False
        d = desk()
        return (
            d.access.level(intent) == ANYONE
            and d.required_details(intent, {}) == []
            and intent not in PERSON_NEEDS
            and d.handler_for(intent) is not None
        )


class ValidateNeedForm(FormValidationAction):
    """Ask only for what the current need still lacks, and check each answer."""

    def name(self) -> str:
        return "validate_need_form"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        up_front = await self._verified_up_front(dispatcher, tracker)
        tracker.slots.update(up_front)
        before = len(tracker.events)
        details_before = {slot: tracker.slots.get(slot) for slot in DETAIL_SLOTS}
        events = await super().run(dispatcher, tracker, domain)
        # The SDK returns only the form's own slots; who a verification check found (and
        # that a check was made at all, which keeps Rasa from rejecting the form) rides along.
        named = {e.get("name") for e in events if e.get("event") == "slot"}
        riding = [SlotSet(name, value) for name, value in up_front.items() if name not in named]
        named |= set(up_front)
        for event in tracker.events[before:]:
            if event.get("name") in IDENTITY_SLOTS and event["name"] not in named:
                riding.append(SlotSet(event["name"], tracker.slots.get(event["name"])))
                named.add(event["name"])
        for slot, value in details_before.items():
            # A detail this need does not ask for but took along (the new day said with the
            # new address): the SDK validates only the need's own.
            if slot not in named and tracker.slots.get(slot) != value:
                riding.append(SlotSet(slot, tracker.slots.get(slot)))
        # Before the next requested slot, which the SDK puts last.
        at = (
            len(events) - 1
            if events and events[-1].get("name") == "requested_slot"
            else len(events)
        )
        return events[:at] + riding + events[at:]

    async def _verified_up_front(self, dispatcher, tracker: Tracker) -> dict[str, Any]:
        """Verify with an order and its email given for a need anyone may ask.

        "it's ORD-10002, email jane.doe@example.com", answering "which order?" about a late
        order: the pair verifies the visitor even though this need did not ask for it, so
        they get the full answer and help."""
        if identity_of(tracker).verified or not email_in_message(tracker):
            return {}
        if not (latest_entity(tracker, "order_id") or tracker.get_slot("order_id")):
            return {}
        if "customer_id" in details_to_complete(tracker):
            return {}  # extract_customer_id checks it, as the need asks
        verified = verify_from_message(tracker, dispatcher, codes=False, send_code=False)
        return verified if verified.get("customer_id") else {}

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        return details_to_complete(tracker)

    def extract_customer_id(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        """Verify the visitor from what they typed (actions/identity.py): tried when
        verification is asked for, and on any message that carries an email meanwhile
        (details said up front count)."""
        if identity_of(tracker).verified:
            return {}
        return verify_from_message(
            tracker, dispatcher, codes=tracker.get_slot("requested_slot") == "customer_id"
        )

    def extract_new_address(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        """The address in the customer's message, said before we asked ("send ORD-10004 to
        22 Marine Parade, Brighton BN2 1TL instead") or when asked, with chat around it
        ("sorry typo, it's ..."). When we asked, an answer we cannot read as an address is
        still taken if it reads as one (a detail or this very need) and has a number, for
        validate_new_address to explain; a question or a change of mind is left alone."""
        if tracker.get_slot("new_address"):
            return {}
        text = tracker.latest_message.get("text") or ""
        address = address_in(text)
        if address:
            found = {"new_address": address}
            if tracker.get_slot("need") == "change_delivery_address":
                # "deliver to 3 Palmerston Road ... and on 15 December instead": the new
                # day said with the new address is one change, confirmed and made together.
                found |= self.extract_new_date(dispatcher, tracker, domain)
            return found
        intent = tracker.latest_message.get("intent", {}).get("name")
        if (
            tracker.get_slot("requested_slot") == "new_address"
            and intent in ADDRESS_ANSWER_INTENTS
            and re.search(r"\d", text)
            and parse_date(text, desk().today()) is None  # "can it come on the 17th instead?"
        ):
            return {"new_address": text}
        return {}

    def extract_new_date(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        """A future date said before we asked ("could ORD-10004 come in ten days instead?")
        is kept; a past or unreadable one is left to the slot's mapping and validate_new_date,
        which say what is wrong with it."""
        if tracker.get_slot("new_date"):
            return {}
        text = latest_entity(tracker, "date") or tracker.latest_message.get("text")
        parsed = parse_date(text, desk().today())
        return {"new_date": parsed.isoformat()} if parsed and parsed > desk().today() else {}

    def validate_customer_id(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        # Only ever set by a passed check (above) or by the channel itself.
        return {"customer_id": value}

    def validate_order_id(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        identity = identity_of(tracker)
        if identity.verified:
            check = desk().check_order(value, identity.customer_id)
            if check.order is None:
                dispatcher.utter_message(response=check.problem, given=value)
                return {"order_id": None}
            return {"order_id": check.order.id}
        order_id = normalize_order_id(value)
        if order_id is None:
            dispatcher.utter_message(response="utter_order_id_unreadable", given=value)
            return {"order_id": None}
        if desk().access.needs_verification(tracker.get_slot("need")):
            # Checked with the email on it, both at once: an unknown order and someone
            # else's then fail in the same words.
            return {"order_id": order_id}
        # Not verified: looked up as a parcel tracker would, within the limits on lookups.
        lookup = desk().verifier.look_up(where_of(tracker), order_id)
        if lookup.limited:
            # required_slots stops asking; serving the need says what we can do.
            return {"order_id": None}
        if lookup.order is None:
            if lookup.said is not None:
                dispatcher.utter_message(response=lookup.said.response, **lookup.said.params)
            return {"order_id": None}
        return {"order_id": lookup.order.id}

    def validate_email(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        # A way to reach them, never an identity: verification is its own step.
        if not isinstance(value, str) or not _EMAIL.match(value.strip()):
            dispatcher.utter_message(response="utter_email_unreadable")
            return {"email": None}
        return {"email": value.strip()}

    def validate_new_address(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        # "sorry typo, it's 12 Highland Road, Southsea PO4 9DA": the address, not the chat.
        text = address_in(value) or (value or "").strip()
        if not 8 <= len(text) <= 300 or not re.search(r"\d", text):
            dispatcher.utter_message(response="utter_address_unreadable")
            return {"new_address": None}
        if not has_town_or_postcode(text):
            # "7 Castle Road": a courier needs the town or postcode; half an address is
            # not saved.
            dispatcher.utter_message(response="utter_address_needs_town", address=text)
            return {"new_address": None}
        return {"new_address": text}

    def validate_new_date(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        today = desk().today()
        parsed = parse_date(value, today)
        if parsed is None or parsed <= today:
            dispatcher.utter_message(response="utter_date_not_understood")
            return {"new_date": None}
        return {"new_date": parsed.isoformat()}


class ActionServeNeed(Action):
    """Serve the noted need now that its details are known."""

    def name(self) -> str:
        return "action_serve_need"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return serve_noted_need(dispatcher, tracker)


def details_to_complete(tracker: Tracker) -> list[str]:
    """The details need_form completes for the noted need: all of them, filled or not (the
    SDK validates the filled ones and asks for the first missing one)."""
    d, need, identity = desk(), tracker.get_slot("need"), identity_of(tracker)
    known = {slot: tracker.get_slot(slot) for slot in DETAIL_SLOTS}
    known["customer_id"] = identity.customer_id  # a verified customer, or nobody
    if (
        not identity.verified
        and d.access.level(need) != ANYONE
        and d.verifier.checks.limited_lately(tracker.sender_id)
    ):
        # Over a limit on checks: stop asking; serving the need says what we can do.
        return []
    return d.required_details(need, known)


def details_validated_up_front(tracker: Tracker) -> dict[str, Any] | None:
    """Every detail need_form would complete for the noted need, checked by the form's own
    validate_<slot> in the order Rasa hands them over (the form's required_slots in
    domain.yml, which DETAIL_SLOTS follows), when all are known and pass without a word;
    None when the form has something to do: a detail to ask for or extract, an answer to
    reject, a check to make."""
    identity = identity_of(tracker)
    if not identity.verified and email_in_message(tracker):
        return None  # the form may verify them with it first (_verified_up_front)
    required = details_to_complete(tracker)
    if any(tracker.get_slot(slot) is None for slot in required):
        return None
    if (
        "order_id" in required
        and not identity.verified
        and not desk().access.needs_verification(tracker.get_slot("need"))
    ):
        # A visitor's order is looked up as a parcel tracker would, which counts against
        # their lookup limits: done once, by the form.
        return None
    form, said = ValidateNeedForm(), CollectingDispatcher()
    validated: dict[str, Any] = {}
    for slot in (s for s in DETAIL_SLOTS if s in required):
        checked = getattr(form, f"validate_{slot}")(tracker.get_slot(slot), said, tracker, {})
        if said.messages or checked.get(slot) is None:
            return None
        validated.update(checked)
    return validated


def serve_noted_need(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """Serve the noted need (its details known): waiting news, the desk's answer, the other
    orders named with it and the other needs raised with it. action_serve_need after the
    form, or action_note_need at once when the form would have had nothing to ask."""
    need = tracker.get_slot("need")
    touchpoint = record_turn(tracker, need=need)
    signals = Signals.from_dict(touchpoint.signals)
    # Waiting news first (verified in the form just now): the answer then carries it.
    news = tell_waiting_news(tracker, dispatcher, raised_a_need=True)
    reply = desk().serve(need_context(tracker, need, signals))
    record_handoff(touchpoint, reply)
    events = news + send(reply, dispatcher) + [SlotSet("need", None)]
    events += the_other_orders(dispatcher, tracker, need, signals)
    return events + serve_waiting_needs(dispatcher, tracker, signals, reply)


def the_other_orders(dispatcher, tracker: Tracker, need: str, signals: Signals) -> list:
    """ "Can you check ORD-10001 and ORD-10003 for me?": where each order is, not only
    the one the form kept."""
    identity = identity_of(tracker)
    if need not in ORDER_QUESTIONS or not identity.verified:
        # A visitor not verified looks orders up one at a time, within the lookup limits.
        return []
    served = tracker.get_slot("order_id")
    others = [o for o in orders_said(tracker) if o != served][:MAX_ORDERS_AT_ONCE]
    events: list[dict] = []
    for order_id in others:
        check = desk().check_order(order_id, identity.customer_id)
        if check.order is None:
            # Not theirs, or no such order: the same words either way.
            dispatcher.utter_message(response=check.problem, given=order_id)
            continue
        tracker.slots["order_id"] = check.order.id
        reply = desk().serve(need_context(tracker, need, signals))
        events += send(reply, dispatcher)
    if others:
        # The order the conversation goes on about stays the one it kept.
        tracker.slots["order_id"] = served
    return events


def serve_waiting_needs(
    dispatcher: CollectingDispatcher, tracker: Tracker, signals: Signals, served: Reply
) -> list[dict]:
    """The other needs the customer raised in the same message ("You also asked
    about ..."), in the order said: each served now when everything it needs is known;
    the first that needs more is offered as a button, and the rest wait. Nothing while
    the customer has a choice to make (buttons) or a person takes over."""
    waiting = list(tracker.get_slot("waiting_needs") or [])
    if not waiting or tracker.get_slot("need") in PERSON_NEEDS:
        return []
    d = desk()
    events: list[dict] = []
    said = next(iter(orders_said(tracker)), None)
    if said and not tracker.get_slot("order_id"):
        # "where's ORD-10004 and can you send me the invoice for it?": the order said
        # for the first need is the second's too (need_context checks it is theirs).
        tracker.slots["order_id"] = said
        events.append(SlotSet("order_id", said))
    known = {slot: tracker.get_slot(slot) for slot in DETAIL_SLOTS}
    known["customer_id"] = identity_of(tracker).customer_id
    while waiting and not any(m.buttons for m in served.messages):
        need = waiting.pop(0)
        label = NEED_LABELS.get(need, need)
        if d.missing_details(need, known):
            dispatcher.utter_message(
                response="utter_also_asked_shall_we",
                label=label,
                buttons=[{"title": label, "payload": f"/{need}"}],
            )
            break
        dispatcher.utter_message(response="utter_also_asked", label=label)
        touchpoint = record_turn(tracker, need=need)
        served = d.serve(need_context(tracker, need, signals))
        record_handoff(touchpoint, served)
        events += send(served, dispatcher)
    return events + [SlotSet("waiting_needs", waiting or None)]


def orders_said(tracker: Tracker) -> list[str]:
    """The order numbers in the customer's latest message, normalised, each once, in order."""
    said = (normalize_order_id(v) for v in tracker.get_latest_entity_values("order_id"))
    return [o for o in dict.fromkeys(said) if o]


def last_order_need(tracker: Tracker) -> str:
    """The order question this chat asked last ("is it late?"), else where the order is."""
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "need" and event.get("value"):
            return (
                event["value"]
                if event["value"] in ("order_status", "order_late")
                else ("order_status")
            )
    return "order_status"


class ActionTakeDetail(Action):
    """A detail typed with no question pending. An order number is a question about that
    order (with the email on it, the visitor is verified first); anything else is answered
    with what we can do."""

    def name(self) -> str:
        return "action_take_detail"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if (taken := identify_by_detail(tracker, dispatcher)) is not None:
            return taken
        order_id = normalize_order_id(latest_entity(tracker, "order_id"))
        if order_id is None and not identity_of(tracker).verified and email_in_message(tracker):
            # The email on the order we just tracked for them: check it's them, then more.
            order_id = tracker.get_slot("order_id")
        if order_id is None:
            email = email_in_message(tracker)
            if email and tracker.get_slot("email_wanted_for") == CALLBACK:
                # The email asked for when they picked "A call from sales": call them back
                # (carry_out checks the offer is still open).
                reply = desk().carry_out(
                    replace(need_context(tracker, "choose_option"), option=CALLBACK, email=email)
                )
                record_turn(tracker, reply=reply)
                events = [SlotSet("email", email), SlotSet("email_wanted_for", None)]
                return events + send(reply, dispatcher)
            record_turn(tracker)
            dispatcher.utter_message(response="utter_what_can_i_do")
            return []
        events = identify_from_channel(tracker)
        if not identity_of(tracker).verified:
            verified = verify_from_message(tracker, dispatcher, codes=False, send_code=False)
            tracker.slots.update(verified)
            events += [SlotSet(name, value) for name, value in verified.items()]
        identity = identity_of(tracker)
        events += tell_waiting_news(tracker, dispatcher, raised_a_need=True)
        if identity.verified:
            problem = desk().check_order(order_id, identity.customer_id).problem
        else:
            lookup = desk().verifier.look_up(where_of(tracker), order_id)
            problem = None if lookup.order or lookup.limited else "utter_order_not_found"
        if problem:
            record_turn(tracker)
            dispatcher.utter_message(response=problem, given=order_id)
            return events
        tracker.slots["order_id"] = order_id
        need = last_order_need(tracker)
        touchpoint = record_turn(tracker, need=need)
        signals = Signals.from_dict(touchpoint.signals)
        reply = desk().serve(need_context(tracker, need, signals))
        record_handoff(touchpoint, reply)
        return events + [SlotSet("order_id", order_id)] + send(reply, dispatcher)


class ActionCarryOutOption(Action):
    """Do what the customer picked from the options the assistant offered."""

    def name(self) -> str:
        return "action_carry_out_option"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reply = desk().carry_out(need_context(tracker, tracker.get_slot("need") or "choose_option"))
        record_turn(tracker, reply=reply)
        return send(reply, dispatcher)
