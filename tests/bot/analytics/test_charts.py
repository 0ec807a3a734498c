"""The review page's SVG charts (bot/analytics/charts.py): marks where the data says, text escaped,
well-formed XML whatever the data, and something sensible with nothing to draw.

The plotting area of a chart with one legend row runs from y = TOP (the top of the scale)
to y = HEIGHT - BOTTOM (zero); the numbers below are worked out from that.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from bot.analytics.charts import (
    BOTTOM,
    HEIGHT,
    NO_DATA,
    TOP,
    Series,
    bar_chart,
    format_value,
    line_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
ZERO_Y = HEIGHT - BOTTOM  # where 0 is drawn
PLOT_H = ZERO_Y - TOP  # the height of the whole scale
XSS = "<img src=x onerror=alert(1)>"


def parse(svg: str) -> ET.Element:
    """The chart as XML: it must be well-formed and an accessible SVG image."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert set(root.get("aria-labelledby").split()) <= ids  # names its own title and desc
    assert root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
    # The page's Content-Security-Policy refuses style attributes: presentation ones only.
    assert "style=" not in svg and "<script" not in svg.lower()
    return root


def marks(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == cls]


def tip(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


def y_ticks(root: ET.Element) -> list[str]:
    return [t.text for t in marks(root, "chart-y-axis")[0].iter(f"{SVG}text")]


def test_bars_side_by_side_are_as_tall_as_their_values():
    svg = bar_chart(
        "Conversations and handoffs per day",
        ["2025-03-10", "2025-03-11"],
        [Series("conversations", [3, 4]), Series("handoffs", [3, 0])],
        chart_id="volume",
    )
    root = parse(svg)
    bars = marks(root, "chart-bar")
    # Three bars: a zero draws nothing. The scale tops at 4 (steps of 1).
    assert [tip(b) for b in bars] == [
        "2025-03-10 · conversations: 3",
        "2025-03-10 · handoffs: 3",
        "2025-03-11 · conversations: 4",
    ]
    heights = [float(b.get("height")) for b in bars]
    assert heights == pytest.approx([PLOT_H * 3 / 4, PLOT_H * 3 / 4, PLOT_H], abs=0.1)
    for b in bars:  # every bar stands on the zero line
        assert float(b.get("y")) + float(b.get("height")) == pytest.approx(ZERO_Y, abs=0.1)
    xs = [float(b.get("x")) for b in bars]
    assert xs == sorted(xs) and xs[2] - xs[0] > (600 - 100) / 2 * 0.9  # Tuesday's to the right
    # Two series, two colours, named in the legend; the y axis says 0 to 4.
    assert bars[0].get("fill") != bars[1].get("fill")
    legend = [t.text for t in root.iter(f"{SVG}text") if t.text in ("conversations", "handoffs")]
    assert legend == ["conversations", "handoffs"]
    assert y_ticks(root) == ["0", "1", "2", "3", "4"]


def test_stacked_bars_add_up_in_one_column():
    svg = bar_chart(
        "Handoffs per department",
        ["Mon", "Tue"],
        [Series("delivery", [2, 0]), Series("billing", [1, 0]), Series("sales", [0, 2])],
        chart_id="handoffs",
        stacked=True,
    )
    bars = marks(parse(svg), "chart-bar")
    assert [tip(b) for b in bars] == ["Mon · delivery: 2", "Mon · billing: 1", "Tue · sales: 2"]
    delivery, billing, sales = bars
    assert delivery.get("x") == billing.get("x") != sales.get("x")
    # Billing sits on top of delivery; the column is 3 high on a scale of 3.
    assert float(billing.get("y")) + float(billing.get("height")) == pytest.approx(
        float(delivery.get("y")), abs=0.1
    )
    assert float(billing.get("y")) == pytest.approx(TOP, abs=0.1)
    assert float(sales.get("height")) == pytest.approx(PLOT_H * 2 / 3, abs=0.1)


def test_lines_are_drawn_through_the_rates_and_broken_where_there_is_nothing():
    svg = line_chart(
        "Outcomes per day",
        ["d1", "d2", "d3", "d4"],
        [Series("self-served", [1.0, 0.5, None, 0.0]), Series("abandoned", [None] * 4)],
        chart_id="outcomes",
        kind="rate",
    )
    root = parse(svg)
    points = marks(root, "chart-point")
    assert [tip(p) for p in points] == [
        "d1 · self-served: 100%",
        "d2 · self-served: 50%",
        "d4 · self-served: 0%",
    ]
    ys = [float(p.get("cy")) for p in points]
    assert ys == pytest.approx([TOP, TOP + PLOT_H / 2, ZERO_Y], abs=0.1)  # 0-100% scale
    (path,) = root.iter(f"{SVG}path")  # the abandoned line has nothing to draw
    # d1 to d2 joined; the gap at d3 lifts the pen, so d4 starts afresh.
    assert re.fullmatch(r"M[\d.]+ [\d.]+ L[\d.]+ [\d.]+ M[\d.]+ [\d.]+", path.get("d"))
    assert y_ticks(root) == ["0%", "25%", "50%", "75%", "100%"]


def test_a_single_group_is_a_dot_and_a_bar():
    line = parse(line_chart("Ratings", ["2025-W11"], [Series("rating", [4.0])],
                            chart_id="r", kind="score"))  # fmt: skip
    assert [tip(p) for p in marks(line, "chart-point")] == ["2025-W11 · rating: 4.00"]
    assert not list(line.iter(f"{SVG}path"))  # nothing to join
    bar = parse(bar_chart("Volume", ["2025-W11"], [Series("conversations", [7])], chart_id="v"))
    assert len(marks(bar, "chart-bar")) == 1


@pytest.mark.parametrize(
    "labels, values",
    [([], []), (["2025-03-10", "2025-03-11"], [0, 0]), (["stage"], [None])],
    ids=["no groups", "all zero", "nothing measured"],
)
def test_no_data_says_so_in_a_valid_chart(labels, values):
    root = parse(bar_chart("Empty", labels, [Series("conversations", values)], chart_id="e"))
    assert not marks(root, "chart-bar")
    assert [t.text for t in marks(root, "chart-no-data")] == [NO_DATA]
    if any(v is not None for v in values):
        return  # a rate of 0% is something to draw (below)
    root = parse(line_chart("Empty", labels, [Series("rate", values)], chart_id="e"))
    assert not marks(root, "chart-point")
    assert [t.text for t in marks(root, "chart-no-data")] == [NO_DATA]


def test_a_rate_of_zero_is_data_not_a_blank():
    root = parse(line_chart("Abandoned", ["a", "b"], [Series("abandoned", [0.0, 0.0])],
                            chart_id="z"))  # fmt: skip
    assert [float(p.get("cy")) for p in marks(root, "chart-point")] == pytest.approx([ZERO_Y] * 2)
    assert not marks(root, "chart-no-data")
    # Side by side (stages, departments): 0% is a hairline on the axis; nothing measured is
    # no bar at all.
    root = parse(bar_chart("Abandoned", ["sales", "none"], [Series("abandoned", [0.0, None])],
                           chart_id="z", kind="rate"))  # fmt: skip
    (bar,) = marks(root, "chart-bar")
    assert tip(bar) == "sales · abandoned: 0%" and float(bar.get("height")) < 1
    assert not marks(root, "chart-no-data")
    assert NO_DATA not in bar_chart("Some", ["a"], [Series("n", [1])], chart_id="s")


def test_labels_names_and_titles_are_escaped():
    svg = bar_chart(
        f"Handoffs to {XSS}",
        [XSS, "a & b"],
        [Series(f"{XSS} (2)", [2, 1])],
        chart_id="x<y",
        stacked=True,
        desc="</desc><script>alert(1)</script>",
    )
    assert XSS not in svg and "<script" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg
    root = parse(svg)
    # What a reader sees is the text as written, not markup.
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert f"{XSS} (2)" in texts and "a & b" in texts
    assert root.find(f"{SVG}title").text == f"Handoffs to {XSS}"
    assert root.find(f"{SVG}desc").text == "</desc><script>alert(1)</script>"
    assert root.get("id") == "x-y"  # one safe token, for aria-labelledby


def test_long_labels_are_shortened_and_crowded_ones_thinned():
    labels = [f"2025-{m:02d}-{d:02d}" for m in (1, 2, 3) for d in range(1, 31)]  # 90 days
    root = parse(line_chart("90 days", labels, [Series("rate", [0.5] * 90)], chart_id="n"))
    shown = [t.text for t in marks(root, "chart-x-axis")[0].iter(f"{SVG}text")]
    assert 5 <= len(shown) <= 12 and shown[0] == "2025-01-01"
    assert len(marks(root, "chart-point")) == 90
    long_name = "customer-success-and-retention"
    root = parse(bar_chart("Departments", [long_name], [Series("n", [1])], chart_id="d"))
    (label,) = marks(root, "chart-x-axis")[0].iter(f"{SVG}text")
    assert label.text == "customer-succ…" and tip(label) == long_name


def test_count_scales_end_on_a_round_number():
    def ticks(highest):
        return y_ticks(parse(bar_chart("n", ["a"], [Series("n", [highest])], chart_id="t")))

    assert ticks(7) == ["0", "2", "4", "6", "8"]
    assert ticks(1) == ["0", "1"]
    assert ticks(1_234_567) == ["0", "500k", "1M", "1.5M"]
    # Minutes may be fractions; counts never step by less than 1.
    root = parse(bar_chart("m", ["a"], [Series("m", [0.3])], chart_id="m", kind="minutes"))
    assert y_ticks(root)[-1] == "0.3"


def test_values_read_as_the_table_shows_them():
    assert format_value(1 / 6, "rate") == "16.7%" and format_value(0.25, "rate") == "25%"
    assert format_value(3.5, "score") == "3.50"
    assert format_value(291.0, "minutes") == "291.0 min"
    assert format_value(1234, "count") == "1,234"


def test_bad_input_is_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="kind must be one of"):
        bar_chart("t", ["a"], [Series("n", [1])], chart_id="c", kind="percent")
    with pytest.raises(ValueError, match="has 1 values for 2 labels"):
        line_chart("t", ["a", "b"], [Series("n", [1])], chart_id="c")
