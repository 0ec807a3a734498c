"""Feedback at the end of a conversation: a rating once, then effort after a solved problem.

A goodbye asks "how did I do?" (1-5, or "No thanks") once per conversation session; a later
goodbye in the same session only says goodbye. After a rating of 3 or more, and only when a
problem was solved in this session, one more question follows: "how easy was it to get this
sorted?" (1-5, 5 = very easy). A low rating (1 or 2) gets the offer of a person and no
further question. Skipping, by the button or by typing anything else, is always fine.

Which question was asked lives in the ``feedback_asked`` slot (``rating``, then ``effort``),
reset by a new session, so nothing is asked twice in one.

A problem counts as *solved* in a session when either
- a department or an agent resolved it: the touchpoint's outcome is ``resolved``; or
- the assistant served a need alone: it answered a need in this session (served), nothing
  was handed to a department or a person (outcome ``self_served``), and no policy limit of
  the conversation is still open (a "here's what we can do" with no alternative taken).
A need handed off and not resolved yet (``handed_off``, ``escalated``) is not sorted yet, so
its effort is not asked; neither is it after small talk alone.
"""

from __future__ import annotations

from bot.journey.store import JourneyStore, Touchpoint
from bot.policies.moments import PolicyLog
from bot.support.replies import Reply

SCORES = range(1, 6)  # ratings and effort answers: 1 to 5
LOW_RATING = 2  # this or lower: sorry, and the offer of a person; nothing more is asked
SLOT = "feedback_asked"
RATING_ASKED = "rating"
EFFORT_ASKED = "effort"


def score(raw: object) -> int | None:
    """A button's value as a score 1-5, or None for anything else ("9", "", "five")."""
    text = str(raw).strip() if raw is not None else ""
    if not text.isdigit() or int(text) not in SCORES:
        return None
    return int(text)


def problem_solved(touchpoint: Touchpoint | None, served: bool, open_limit: bool) -> bool:
    """Whether a problem was solved in this conversation session (see the module doc)."""
    if touchpoint is None:
        return False
    if touchpoint.outcome == "resolved":
        return True
    return touchpoint.outcome == "self_served" and served and not open_limit


class Feedback:
    """Asks for feedback once per session and keeps the answers on the touchpoint."""

    def __init__(self, journey: JourneyStore, policy_log: PolicyLog):
        self.journey = journey
        self.policy_log = policy_log

    def goodbye(self, asked: str | None) -> Reply:
        """Say goodbye; ask for a rating unless this session already did."""
        if asked:
            return Reply().say("utter_goodbye_again")
        return Reply(slots={SLOT: RATING_ASKED}).say("utter_goodbye")

    def rated(
        self,
        conversation_id: str,
        raw: object,
        asked: str | None,
        touchpoint: Touchpoint | None,
        served: bool,
    ) -> Reply:
        """Keep a rating; thank, offer a person after a low one, or ask about effort once.

        ``asked`` is the ``feedback_asked`` slot; ``served`` says whether the assistant
        answered a need in this session. An invalid value is not kept.
        """
        rating = score(raw)
        if rating is None:
            return Reply().say("utter_option_unknown")
        self.journey.rate(conversation_id, rating)
        # Rated in this session: a later goodbye does not ask again.
        reply = Reply(slots={SLOT: asked or RATING_ASKED})
        if rating <= LOW_RATING:
            return reply.say("utter_sorry_low_rating")
        if asked == RATING_ASKED and self._solved(conversation_id, touchpoint, served):
            reply.slots[SLOT] = EFFORT_ASKED
            return reply.say("utter_thanks_how_easy_was_it")
        return reply.say("utter_thanks_for_rating")

    def effort_given(self, conversation_id: str, raw: object, asked: str | None) -> Reply:
        """Keep the effort answer, when this session asked for it.

        A stale button from an earlier session (the widget shows its history again) is
        thanked for but not kept: it would land on a touchpoint that never asked.
        """
        effort = score(raw)
        if effort is None:
            return Reply().say("utter_option_unknown")
        if asked == EFFORT_ASKED:
            self.journey.rate_effort(conversation_id, effort)
        return Reply().say("utter_thanks_for_effort")

    def _solved(self, conversation_id: str, touchpoint: Touchpoint | None, served: bool) -> bool:
        # The policy log is read only when it can change the answer.
        open_limit = (
            touchpoint is not None
            and touchpoint.outcome == "self_served"
            and served
            and bool(self.policy_log.moments(conversation_id, open_only=True))
        )
        return problem_solved(touchpoint, served, open_limit)
