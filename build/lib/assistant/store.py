"""Conversations and feedback, in SQLite by default (any SQLAlchemy URL, e.g. PostgreSQL)."""

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)

metadata = MetaData()

conversations = Table(
    "conversations", metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), index=True),
    Column("question", Text, nullable=False),
    Column("standalone_question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("citations", JSON, nullable=False),
    Column("grounded", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), nullable=True),
    Column("message_id", Integer, nullable=True),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """`Store("sqlite:///data/assistant.db")`: tables are created on first use."""

    def __init__(self, url: str):
        self.engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    def history(self, conversation_id: str, limit: int = 5) -> list[str]:
        """The last stand-alone questions of a conversation, oldest first."""
        query = (select(messages.c.standalone_question)
                 .where(messages.c.conversation_id == conversation_id)
                 .order_by(messages.c.id.desc()).limit(limit))
        with self.engine.connect() as connection:
            return [row[0] for row in connection.execute(query)][::-1]

    def add_message(self, conversation_id: str | None, question: str, standalone: str,
                    answer: str, citations: list[dict], grounded: bool) -> tuple[str, int]:
        conversation_id = conversation_id or uuid.uuid4().hex
        with self.engine.begin() as connection:
            known = connection.execute(
                select(conversations.c.id).where(conversations.c.id == conversation_id)
            ).first()
            if not known:
                connection.execute(insert(conversations).values(id=conversation_id,
                                                                created_at=_now()))
            result = connection.execute(insert(messages).values(
                conversation_id=conversation_id, question=question,
                standalone_question=standalone, answer=answer,
                citations=json.loads(json.dumps(citations)), grounded=int(grounded),
                created_at=_now(),
            ))
            return conversation_id, int(result.inserted_primary_key[0])

    def messages(self, conversation_id: str) -> list[dict]:
        query = (select(messages).where(messages.c.conversation_id == conversation_id)
                 .order_by(messages.c.id))
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def add_feedback(self, **values) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(insert(feedback).values(created_at=_now(), **values))
            return int(result.inserted_primary_key[0])

    def feedback(self) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(select(feedback))]


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the API read while another request writes; busy_timeout waits instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
