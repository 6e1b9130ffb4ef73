"""Record the histories of runs with a workflow stream (patch `live-progress-stream`, workflows/live.py):
`python -m tests.record_live_histories`.

On a dev server (the stream's reader long-polls with updates), with a scripted model that streams:
the answer's first attempt breaks off mid-reply and is retried, a reader follows the stream, and the
run continues as new after two turns. Both runs' histories are kept: the first ends in the stream's
hand-over, the second carries it on and holds the retried, streamed answer.
Recorded once, kept forever; never re-recorded to make a replay test pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from temporalio.contrib.workflow_streams import WorkflowStreamClient

from activities.llm.scripted import ScriptedReply
from agents.merchant_support import Store
from client import AgentClient
from core.client import connect
from core.config import Settings
from core.guardrails import ContextSettings
from core.models import AgentRequest
from tests.conftest import DEMO, scripted_provider, strict_worker
from tests.live_stack import running_server
from tests.record_histories import HISTORIES, _call

HANDOVER = f"{DEMO.name}.live_stream_handover"
RETRIED = f"{DEMO.name}.live_stream_retried_after_handover"
TASK = "[live] look up pay_ABC123 and pay_ABC124, then say whether one is a duplicate"
SCRIPT = [
    _call("get_transaction", transaction_id="pay_ABC123"),
    _call("get_transaction", transaction_id="pay_ABC124"),
    ScriptedReply(content="pay_ABC124 repeats pay_ABC123 and is refunded already.", cut_first=1),
]


async def record_live(tmp: Path) -> None:
    paths = [HISTORIES / f"{name}.json" for name in (HANDOVER, RETRIED)]
    if any(path.exists() for path in paths):
        return
    with contextlib.ExitStack() as server:
        address, _ = await asyncio.to_thread(server.enter_context, running_server(tmp))
        client = await connect(Settings(temporal_address=address, data_dir=tmp / "data"))
        provider = scripted_provider({TASK: SCRIPT}, streams=True)
        async with strict_worker(client, "record-live", provider, Store.open(tmp)):
            request = AgentRequest(
                task=TASK, agent=DEMO.name, user_id="tester", context=ContextSettings(turns_per_run=2)
            )
            handle = await AgentClient(client, "record-live").start(request, workflow_id="recorded-live")
            reader = WorkflowStreamClient.create(client, handle.id)
            items = [item async for item in reader.subscribe()]  # to the end, across the hand-over
            result = await handle.result()
            first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
            histories = [
                await first.fetch_history(),
                await client.get_workflow_handle(handle.id).fetch_history(),
            ]
    for path, history in zip(paths, histories, strict=True):
        path.write_text(history.to_json())
        print(f"{path.stem}: {len(history.events)} events")
    print(f"{result.status.value} in {result.runs} runs; the reader got {len(items)} items")


if __name__ == "__main__":
    asyncio.run(record_live(Path(tempfile.mkdtemp())))
