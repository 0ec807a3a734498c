"""Short follow-ups read in the context of the question just answered (bot/nlp/follow_ups.py)."""

from bot.nlp.clauses import SMALL_TALK
from bot.nlp.follow_ups import follow_up_of, lets_it_go


def test_a_follow_up_after_a_policy_answer_is_more_of_that_question():
    assert follow_up_of("and after 30 days?", "ask_refund_policy", "request_refund", 0.7) == (
        "ask_refund_policy"
    )
    assert follow_up_of("and if I pay yearly?", "ask_pricing", "upgrade_plan", 0.6) == "ask_pricing"
    assert follow_up_of("what about students?", "ask_pricing", "ask_discount", 0.8) is None


def test_anything_else_is_left_as_the_classifier_read_it():
    # Not after a question we answered.
    assert follow_up_of("and after 30 days?", "order_status", "request_refund", 0.7) is None
    assert follow_up_of("and after 30 days?", None, "request_refund", 0.7) is None
    # Not shaped like a follow-up, or too long to be one.
    assert (
        follow_up_of("refund my order please", "ask_refund_policy", "request_refund", 0.7) is None
    )
    long = "and also could you tell me where my order is and when it will come"
    assert follow_up_of(long, "ask_refund_policy", "order_status", 0.6) is None
    # The classifier is sure of another need.
    assert follow_up_of("and cancel ORD-10004", "ask_pricing", "cancel_order", 0.95) is None


def test_a_way_out_while_we_ask_lets_the_request_go_unless_it_is_a_new_need():
    assert lets_it_go("actually no, leave it, I'll keep it", "nlu_fallback", 0.4, SMALL_TALK)
    assert lets_it_go("never mind then", "deny", 0.7, SMALL_TALK)
    assert lets_it_go("forget it", "complain", 0.45, SMALL_TALK)
    # A change of mind to another need is that need.
    assert not lets_it_go(
        "actually forget the address, can it come on the 17th?",
        "change_delivery_date",
        0.9,
        SMALL_TALK,
    )
    assert not lets_it_go("ORD-10004", "inform", 1.0, SMALL_TALK)  # an answer, not a way out
