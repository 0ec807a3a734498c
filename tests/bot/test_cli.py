"""The command line: dead letters are listed and can be sent again by hand."""

from datetime import datetime

from sqlalchemy import insert, select

from bot.__main__ import main
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.db.schema import handoffs, outbox


def test_dead_letters_are_listed_and_retried_by_hand(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    monkeypatch.setenv("CX_JOURNEY_URL", url)
    engine = make_engine(url)
    migrate(engine)
    now = datetime(2025, 3, 12, 10, 0)
    with engine.begin() as conn:
        conn.execute(
            insert(handoffs).values(
                id=7, created_at=now, department="billing", need="charged_twice",
                conversation_id="c", channel="rest", priority="high", summary="s",
                context="{}", status="open",
            )
        )  # fmt: skip
        conn.execute(
            insert(outbox).values(
                id=3, handoff_id=7, conversation_id="c", department="billing",
                idempotency_key="k", body="{}", created_at=now, state="dead", attempts=1,
                next_attempt_at=now, last_status=400, last_error="bad request", dead_at=now,
            )
        )  # fmt: skip
    assert main(["dead-letters"]) == 0
    listed = capsys.readouterr().out
    assert "H-7" in listed and "400 bad request" in listed and "1 dead letter(s)" in listed
    assert main(["dead-letters", "--retry", "3"]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.state)).scalar_one() == "pending"
    assert main(["dead-letters", "--retry", "3"]) == 1  # no longer dead
