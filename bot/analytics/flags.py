"""Conversations flagged for review, and their customer messages turned into training data.

An analyst flags a conversation (a touchpoint) with free tags ("misunderstood", "rude
reply"...) and a note. On the flagged list, each customer message of a flagged
conversation can be kept as an example with the intent the analyst picks; the examples
export as Rasa NLU YAML, ready to add under ``data/nlu/`` and retrain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.analytics.sql import connected
from bot.db.schema import review_examples, review_flags, touchpoints, users
from bot.redaction import redact

MAX_TAGS = 10
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 2000
MAX_EXAMPLE_LENGTH = 1000  # longer than any sensible training example
FLAGGED_PAGE = 20


class NotFound(LookupError):
    """No such touchpoint or example."""


class Invalid(ValueError):
    """Tags, note, text or intent that can't be kept; the message says which and why."""


@dataclass(frozen=True)
class Flag:
    """A conversation marked for review."""

    touchpoint_id: int
    conversation_id: str
    tags: tuple[str, ...]
    note: str | None
    flagged_by: str  # the analyst's display name
    flagged_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "touchpoint_id": self.touchpoint_id,
            "conversation_id": self.conversation_id,
            "tags": list(self.tags),
            "note": self.note,
            "flagged_by": self.flagged_by,
            "flagged_at": self.flagged_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class Example:
    """A customer message with the intent an analyst says it should have had."""

    id: int
    touchpoint_id: int
    text: str
    intent: str
    predicted_intent: str | None
    labelled_by: str
    labelled_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "touchpoint_id": self.touchpoint_id,
            "text": self.text,
            "intent": self.intent,
            "predicted_intent": self.predicted_intent,
            "labelled_by": self.labelled_by,
            "labelled_at": self.labelled_at.isoformat(timespec="seconds"),
        }


# -- flags -------------------------------------------------------------------------------------
def flag_of(bind: Engine | Connection, touchpoint_id: int) -> Flag | None:
    """The flag on a touchpoint, or None."""
    with connected(bind) as conn:
        row = conn.execute(
            _flags_query().where(review_flags.c.touchpoint_id == touchpoint_id)
        ).first()
    return _flag(row) if row else None


def set_flag(
    engine: Engine,
    touchpoint_id: int,
    tags: Iterable[str],
    note: str | None,
    user_id: int,
    now: datetime,
) -> Flag:
    """Flag a touchpoint (or change its tags and note); ``Invalid`` for bad tags or note."""
    clean_tags = clean_tag_list(tags)
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_LENGTH:
        raise Invalid(f"a note is at most {MAX_NOTE_LENGTH} characters")
    with engine.begin() as conn:
        conversation_id = conn.execute(
            select(touchpoints.c.conversation_id).where(touchpoints.c.id == touchpoint_id)
        ).scalar()
        if conversation_id is None:
            raise NotFound(f"no touchpoint {touchpoint_id}")
        values = {"tags": json.dumps(clean_tags), "note": note, "flagged_by": user_id}
        changed = conn.execute(
            update(review_flags)
            .where(review_flags.c.touchpoint_id == touchpoint_id)
            .values(**values)
        ).rowcount
        if not changed:
            conn.execute(
                insert(review_flags).values(
                    touchpoint_id=touchpoint_id,
                    conversation_id=conversation_id,
                    flagged_at=now,
                    **values,
                )
            )
        row = conn.execute(
            _flags_query().where(review_flags.c.touchpoint_id == touchpoint_id)
        ).one()
    return _flag(row)


def clear_flag(engine: Engine, touchpoint_id: int) -> bool:
    """Take the flag off a touchpoint; False if it had none. Its kept examples stay."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                delete(review_flags).where(review_flags.c.touchpoint_id == touchpoint_id)
            ).rowcount
        )


def flagged(
    bind: Engine | Connection, limit: int = FLAGGED_PAGE, before: int | None = None
) -> list[dict[str, Any]]:
    """Flagged conversations, most recently flagged first: each flag with its touchpoint's
    channel, start, outcome and the customer's messages (``lines``). ``before`` is the
    ``flag_id`` of the last one already shown (keyset paging)."""
    query = (
        select(
            review_flags.c.id.label("flag_id"),
            review_flags,
            users.c.display_name,
            touchpoints.c.channel,
            touchpoints.c.started_at,
            touchpoints.c.outcome,
            touchpoints.c.customer_id,
            touchpoints.c.customer_text,
        )
        .select_from(
            review_flags.join(users, users.c.id == review_flags.c.flagged_by).join(
                touchpoints, touchpoints.c.id == review_flags.c.touchpoint_id
            )
        )
        .order_by(review_flags.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(review_flags.c.id < before)
    with connected(bind) as conn:
        rows = conn.execute(query).all()
    return [
        {
            "flag_id": r.flag_id,
            "flag": _flag(r),
            "channel": r.channel,
            "started_at": r.started_at,
            "outcome": r.outcome,
            "customer_id": r.customer_id,
            "lines": customer_lines(r.customer_text),
        }
        for r in rows
    ]


def customer_lines(customer_text: str | None) -> list[str]:
    """The customer's own messages of a touchpoint, without button payloads ("/intent{...}"),
    each once, in order."""
    seen: dict[str, None] = {}
    for line in (customer_text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("/"):
            seen.setdefault(line, None)
    return list(seen)


def clean_tag_list(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, lower-cased, de-duplicated; ``Invalid`` when too many or too long."""
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise Invalid("tags are strings")
        tag = " ".join(tag.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(f"a tag is at most {MAX_TAG_LENGTH} characters: {tag[:20]!r}...")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags")
    return out


# -- examples for training ---------------------------------------------------------------------
def keep_example(
    engine: Engine,
    touchpoint_id: int,
    text: str,
    intent: str,
    intents: Sequence[str],
    user_id: int,
    now: datetime,
    predicted_intent: str | None = None,
) -> Example:
    """Keep a customer message as an example of ``intent`` (one of ``intents``, the
    domain's); keeping the same message again changes its intent."""
    text = " ".join((text or "").split())  # one line: an NLU example is one line
    if not text:
        raise Invalid("an example needs the customer's text")
    if len(text) > MAX_EXAMPLE_LENGTH:
        raise Invalid(f"an example is at most {MAX_EXAMPLE_LENGTH} characters")
    if intent not in intents:
        raise Invalid(f"{intent!r} is not an intent of the assistant's domain")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with engine.begin() as conn:
        if (
            conn.execute(select(touchpoints.c.id).where(touchpoints.c.id == touchpoint_id)).first()
            is None
        ):
            raise NotFound(f"no touchpoint {touchpoint_id}")
        values = {"intent": intent, "labelled_by": user_id, "labelled_at": now}
        changed = conn.execute(
            update(review_examples)
            .where(
                review_examples.c.touchpoint_id == touchpoint_id,
                review_examples.c.text_sha256 == digest,
            )
            .values(**values)
        ).rowcount
        if not changed:
            conn.execute(
                insert(review_examples).values(
                    touchpoint_id=touchpoint_id,
                    text=text,
                    text_sha256=digest,
                    predicted_intent=predicted_intent,
                    **values,
                )
            )
        row = conn.execute(
            _examples_query().where(
                review_examples.c.touchpoint_id == touchpoint_id,
                review_examples.c.text_sha256 == digest,
            )
        ).one()
    return _example(row)


def drop_example(engine: Engine, example_id: int) -> None:
    """Forget a kept example; ``NotFound`` if there is none with that id."""
    with engine.begin() as conn:
        if not conn.execute(
            delete(review_examples).where(review_examples.c.id == example_id)
        ).rowcount:
            raise NotFound(f"no example {example_id}")


def examples(
    bind: Engine | Connection, touchpoint_ids: Sequence[int] | None = None
) -> list[Example]:
    """Kept examples (of those touchpoints, if given), by intent then text."""
    query = _examples_query().order_by(review_examples.c.intent, review_examples.c.text)
    if touchpoint_ids is not None:
        query = query.where(review_examples.c.touchpoint_id.in_(list(touchpoint_ids)))
    with connected(bind) as conn:
        return [_example(r) for r in conn.execute(query).all()]


def nlu_yaml(kept: Iterable[Example]) -> str:
    """Rasa NLU training data (format 3.1) of the examples, grouped by intent."""
    by_intent: dict[str, dict[str, None]] = {}
    for example in kept:
        by_intent.setdefault(example.intent, {})[_nlu_text(example.text)] = None
    nlu = [
        {"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)}
        for intent, texts in sorted(by_intent.items())
    ]
    body = yaml.dump(
        {"version": "3.1", "nlu": nlu},
        Dumper=_BlockDumper,
        sort_keys=False,
        allow_unicode=True,
        width=10_000,
    )
    return "# Customer messages from flagged conversations, labelled in CX review.\n" + body


def domain_intents(domain_file: Path) -> list[str]:
    """The intents the assistant knows, from domain.yml (the choices for a label)."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    names = []
    for entry in domain.get("intents") or []:
        names.append(next(iter(entry)) if isinstance(entry, dict) else str(entry))
    return names


# -- rows to objects ---------------------------------------------------------------------------
def _flags_query():
    return select(review_flags, users.c.display_name).join(
        users, users.c.id == review_flags.c.flagged_by
    )


def _examples_query():
    return select(review_examples, users.c.display_name).join(
        users, users.c.id == review_examples.c.labelled_by
    )


def _flag(row) -> Flag:
    return Flag(
        touchpoint_id=row.touchpoint_id,
        conversation_id=row.conversation_id,
        tags=tuple(json.loads(row.tags)),
        note=row.note,
        flagged_by=row.display_name,
        flagged_at=row.flagged_at,
    )


def _example(row) -> Example:
    return Example(
        id=row.id,
        touchpoint_id=row.touchpoint_id,
        text=row.text,
        intent=row.intent,
        predicted_intent=row.predicted_intent,
        labelled_by=row.display_name,
        labelled_at=row.labelled_at,
    )


def _nlu_text(text: str) -> str:
    # Rasa reads "[words](entity)" in an example as an entity annotation: a customer's
    # literal brackets become parentheses so the example means what the customer wrote.
    # Then personal data goes (training data is shared widely); "[card]" alone is no
    # annotation to Rasa, which needs "[words](entity)".
    return redact(text.replace("[", "(").replace("]", ")"))


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks, the way Rasa's own data files look."""


def _block_strings(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _block_strings)
