"""CX review: metrics over the journey store, the touchpoint log, and synthetic journeys.

``metrics.metrics_table`` is the one table the review page, the CSV export and
``python -m bot report`` show; ``log.touchpoint_log`` pages through touchpoints;
``demo_data.load_demo_data`` fills a store for demos and scale tests.
"""

from bot.analytics.filters import Filters
from bot.analytics.metric_definitions import DEFINITIONS, METRICS
from bot.analytics.metrics import MetricsTable, metrics_table

__all__ = ["DEFINITIONS", "METRICS", "Filters", "MetricsTable", "metrics_table"]
