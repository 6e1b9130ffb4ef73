"""An agent from outside the runtime: a library's loans desk, defined in this one module only.

Served with `AGENT_APPS=tests.outside_agent:AGENT`; nothing else in the repo names it. Its own
instructions, typed tools, an irreversible tool behind approval, and its own SQLite table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from pydantic import BaseModel, Field

from activities.sqlite_store import SqliteStore
from core.agent import Agent, AgentEnv, CriticPolicy, Instructions, PromptVersion
from core.errors import NotFoundError
from core.function_tools import tool
from core.toolspec import ToolContext

LoanId = Annotated[str, Field(pattern=r"^LN-\d{3}$", description="A loan id, e.g. LN-101")]


class LoanStore(SqliteStore):
    FILENAME = "loans.db"
    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS loans (id TEXT PRIMARY KEY, title TEXT NOT NULL, due TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS renewals (id TEXT PRIMARY KEY, loan_id TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE)""",
    )
    TABLES = frozenset({"loans", "renewals"})

    def seed(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO loans VALUES ('LN-101', 'Dune', '2026-12-10')")


@asynccontextmanager
async def open_loans(env: AgentEnv) -> AsyncIterator[LoanStore]:
    yield await LoanStore.open_async(env.data_dir)


class Loan(BaseModel):
    loan_id: str
    title: str
    due: str


class Renewal(BaseModel):
    renewal_id: str
    loan_id: str
    new_due: str


@tool(truncation="head")
async def get_loan(ctx: ToolContext[LoanStore], loan_id: LoanId) -> Loan:
    """Look up a loan: the book's title and when it is due.

    Args:
        loan_id: The loan, e.g. LN-101.
    """
    row = await ctx.deps.read(lambda c: c.execute("SELECT * FROM loans WHERE id = ?", (loan_id,)).fetchone())
    if row is None:
        raise NotFoundError(f"no loan {loan_id!r}")
    return Loan(loan_id=row["id"], title=row["title"], due=row["due"])


@tool(irreversible=True, side_effect=True)
async def renew_loan(ctx: ToolContext[LoanStore], loan_id: LoanId) -> Renewal:
    """Renew a loan by 14 days. A librarian approves every renewal.

    Args:
        loan_id: The loan to renew, e.g. LN-101.
    """
    renewal_id = "rn_" + ctx.idempotency_key.rsplit(":", 1)[-1]

    def write(conn: sqlite3.Connection) -> dict[str, str]:
        conn.execute("INSERT INTO renewals VALUES (?, ?, ?)", (renewal_id, loan_id, ctx.idempotency_key))
        conn.execute("UPDATE loans SET due = '2026-12-24' WHERE id = ?", (loan_id,))
        return {"renewal_id": renewal_id, "loan_id": loan_id, "new_due": "2026-12-24"}

    result, _ = await ctx.deps.run_once(ctx.idempotency_key, "renew_loan", write)
    return Renewal.model_validate(result)


AGENT: Agent[LoanStore] = Agent(
    name="loans_desk",
    instructions=Instructions(
        versions=(
            PromptVersion(
                version="loans-v1",
                text="You help library members with their loans. Look the loan up, renew it if asked.",
                changelog="The desk's first prompt.",
            ),
        ),
        current="loans-v1",
        task_template="Member's request: {task}",
    ),
    tools=(get_loan, renew_loan),
    critic=CriticPolicy(reported_fields=("renewal_id",)),
    deps=open_loans,
)
