"""Every process's Prometheus endpoint, scraped before and after a real conversation (a
turn with a custom action, then a handoff to a person): the numbers each one owns moved."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.processes import metrics_urls

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset], float]


def scrape(url: str) -> Samples:
    answer = requests.get(url, timeout=5)
    answer.raise_for_status()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def scrape_all(assistant) -> dict[str, Samples]:
    return {name: scrape(url) for name, url in metrics_urls(assistant.settings).items()}


def test_each_process_counts_a_real_conversation_on_its_own_loopback_endpoint(assistant):
    urls = metrics_urls(assistant.settings)
    assert set(urls) == {"Rasa server", "action server", "hub", "handoff dispatcher"}
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    before = scrape_all(assistant)
    who = "e2e-metrics-1"

    assistant.say(who, "hi")  # answered by a custom action (action_greet)
    assistant.say(who, "I want to talk to a person")  # a handoff to support: queue and outbox

    rasa = scrape(urls["Rasa server"])
    old = before["Rasa server"]
    assert (
        total(rasa, "cx_turns_total", channel="rest") - total(old, "cx_turns_total", channel="rest")
        == 2
    )
    assert (
        total(rasa, "cx_turn_seconds_count", channel="rest")
        - total(old, "cx_turn_seconds_count", channel="rest")
        == 2
    )
    assert total(rasa, "cx_turns_total", turn_type="action_greet", channel="rest") > total(
        old, "cx_turns_total", turn_type="action_greet", channel="rest"
    )
    # Every custom action Rasa ran for these two messages was counted, per action and per turn.
    ran = [
        e["name"]
        for e in assistant.tracker(who)["events"]
        if e["event"] == "action"
        and e["name"].startswith(("action_", "validate_"))
        and e["name"] != "action_listen"
    ]
    assert "action_greet" in ran
    assert total(rasa, "cx_remote_actions_total") - total(old, "cx_remote_actions_total") >= len(
        ran
    )
    assert (
        total(rasa, "cx_turn_remote_actions_sum") - total(old, "cx_turn_remote_actions_sum")
        >= len(ran) - 1
    )  # the session start may run before the first message's turn is timed
    assert total(rasa, "cx_action_failures_total") == total(old, "cx_action_failures_total")

    actions = scrape(urls["action server"])
    assert total(actions, "cx_journey_write_seconds_count") > total(
        before["action server"], "cx_journey_write_seconds_count"
    )

    hub = scrape(urls["hub"])
    assert total(hub, "cx_queue_waiting") >= total(before["hub"], "cx_queue_waiting") + 1
    assert total(hub, "cx_queue_oldest_wait_seconds") > 0
    assert ("cx_takeovers_open", frozenset()) in hub

    # The dispatcher delivers the support handoff to the hub's built-in inbox within moments.
    deadline = time.monotonic() + 20
    while True:
        dispatcher = scrape(urls["handoff dispatcher"])
        sent = total(dispatcher, "cx_deliveries_total", department="support", outcome="sent")
        if sent > total(
            before["handoff dispatcher"],
            "cx_deliveries_total",
            department="support",
            outcome="sent",
        ):
            break
        assert time.monotonic() < deadline, "no delivery to support counted within 20 s"
        time.sleep(0.25)
    assert total(dispatcher, "cx_department_sla_seconds", department="support") > 0
    for family in ("cx_outbox_pending", "cx_outbox_oldest_age_seconds", "cx_outbox_dead_letters"):
        assert (family, frozenset({("department", "support")})) in dispatcher
