from datetime import date

import pytest
import yaml

from bot.backoffice.model import Order
from bot.config import ConfigError
from bot.routing import RoutingMap, stage_from_orders
from bot.support.needs import HANDLERS

TODAY = date(2025, 3, 12)


def _order(status, delivered=None, order_id="ORD-1"):
    return Order(
        order_id, "C1", ("x",), 1.0, date(2025, 1, 1), status, "addr", delivered_at=delivered
    )


def test_every_need_has_an_owner_and_every_owner_a_handler():
    routing = RoutingMap.load()
    assert set(routing) == set(HANDLERS)
    assert routing.department_of("order_status") == "delivery"
    assert routing.department_of("charged_twice") == "billing"
    assert routing.department_of("book_demo") == "sales"
    assert routing.department_of("request_human") == "support"
    assert routing.department_of("greet") is None
    assert routing.department_of("nlu_fallback") is None


def test_fixed_stages_come_from_the_need():
    routing = RoutingMap.load()
    assert routing.route("cancel_subscription").stage == "leaving"
    assert routing.route("ask_renewal").stage == "renewal"
    assert routing.route("ask_pricing", [_order("delivered", date(2024, 1, 1))]).stage == "prospect"


def test_stage_from_the_customer_record():
    assert stage_from_orders([], TODAY) == "prospect"
    assert stage_from_orders([_order("shipped")], TODAY) == "purchase"
    assert stage_from_orders([_order("delivered", date(2025, 3, 1))], TODAY) == "onboarding"
    assert stage_from_orders([_order("delivered", date(2024, 12, 1))], TODAY) == "usage"
    assert RoutingMap.load().route("order_status", [_order("shipped")], TODAY).stage == "purchase"


@pytest.mark.parametrize(
    "content, message",
    [
        (
            {"intents": {"x": {"department": "marketing", "stage": "usage"}}},
            "intents.x.department: 'marketing'",
        ),
        ({"intents": {"x": {"department": "sales", "stage": "later"}}}, "intents.x.stage: 'later'"),
        ({"intents": {"x": {"stage": "usage"}}}, "intents.x: missing key 'department'"),
        ({"nothing": 1}, "missing key 'intents'"),
    ],
)
def test_bad_routing_files_name_the_file_and_key(tmp_path, content, message):
    path = tmp_path / "routing.yml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError) as err:
        RoutingMap.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_broken_yaml_is_a_clear_error(tmp_path):
    path = tmp_path / "routing.yml"
    path.write_text("intents: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        RoutingMap.load(path)


def test_department_from_ranking_sums_a_departments_intents():
    routing = RoutingMap.load()
    split = [
        ("nlu_fallback", 0.55),
        ("refund_status", 0.35),
        ("request_refund", 0.3),
        ("out_of_scope", 0.2),
    ]
    assert routing.department_scores(split) == pytest.approx({"billing": 0.65, "none": 0.2})
    assert routing.department_from_ranking(split) == "billing"
    assert routing.department_from_ranking([("out_of_scope", 0.6), ("ask_pricing", 0.4)]) is None
    assert (
        routing.department_from_ranking(
            [("ask_pricing", 0.3), ("order_status", 0.3), ("greet", 0.2)]
        )
        is None
    )
    assert routing.department_from_ranking([]) is None
