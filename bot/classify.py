"""Classify customer messages with the trained model: intent, department, stage, entities.

``python -m bot classify`` reads one message per line on stdin and writes one JSON object
per line. The evaluation (bot/evaluation.py) uses the same ``Classifier``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from bot.routing import FROM_CUSTOMER, RoutingMap
from bot.settings import quiet_tensorflow

# What `python -m bot classify` prints; the rest of Classification serves the evaluation.
PUBLIC_FIELDS = ("text", "intent", "confidence", "department", "stage", "entities")


@dataclass(frozen=True)
class Classification:
    text: str
    intent: str | None
    confidence: float
    department: str | None  # from the confidences of all the department's intents together
    stage: str | None  # None when the stage depends on the customer's record
    entities: list[dict]
    # The best real intent even when the fallback threshold turned it into nlu_fallback,
    # so thresholds can be compared without retraining.
    top_intent: str | None = None
    top_confidence: float = 0.0
    ranking: tuple[tuple[str, float], ...] = ()


class Classifier:
    """A trained Rasa model loaded in this process, plus the routing map."""

    def __init__(self, model: str | Path = "models", routing: RoutingMap | None = None):
        quiet_tensorflow()
        from rasa.core.agent import Agent
        from rasa.model import get_local_model
        from rasa.utils.log_utils import configure_structlog

        # Rasa's structured log would otherwise print debug lines on stdout.
        configure_structlog(logging.WARNING)
        logging.getLogger("rasa").setLevel(logging.ERROR)
        self._agent = Agent.load(get_local_model(str(model)))
        self._routing = routing or RoutingMap.load()
        self._loop = asyncio.new_event_loop()
        self._stages = self._routing.as_dict()

    def classify(self, text: str) -> Classification:
        parsed = self._loop.run_until_complete(self._agent.parse_message(text))
        intent = (parsed.get("intent") or {}).get("name")
        confidence = float((parsed.get("intent") or {}).get("confidence") or 0.0)
        stage = self._stages.get(intent or "", {}).get("stage")
        entities = [
            {
                "entity": e["entity"],
                "value": e.get("value"),
                "start": e.get("start"),
                "end": e.get("end"),
            }
            for e in parsed.get("entities", [])
        ]
        top: dict[str, Any] = next(
            (r for r in parsed.get("intent_ranking", []) if r.get("name") != "nlu_fallback"), {}
        )
        return Classification(
            ranking=tuple(
                (r["name"], round(float(r["confidence"]), 4))
                for r in parsed.get("intent_ranking", [])
            ),
            top_intent=top.get("name"),
            top_confidence=round(float(top.get("confidence") or 0.0), 4),
            text=text,
            intent=intent,
            confidence=round(confidence, 4),
            department=self._routing.department_from_ranking(
                [(r["name"], float(r["confidence"])) for r in parsed.get("intent_ranking", [])]
            ),
            stage=None if stage == FROM_CUSTOMER else stage,
            entities=entities,
        )

    def close(self) -> None:
        self._loop.close()


def classify_stream(lines: IO[str], out: IO[str], model: str | Path = "models") -> int:
    """One JSON object per input line; blank lines give an object with intent null."""
    classifier = Classifier(model)
    try:
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                result = Classification(text, None, 0.0, None, None, [])
            else:
                result = classifier.classify(text)
            row = {k: v for k, v in asdict(result).items() if k in PUBLIC_FIELDS}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
    finally:
        classifier.close()
    return 0
