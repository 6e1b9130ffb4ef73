"""Record the histories of runs that hand their last items to a reader (patch `live-tail-to-readers`,
workflows/live.py): `python -m tests.record_tail_histories`.

On a dev server with a scripted model that streams: one run whose reader follows it to the end (the
run ends once a poll holds its last items), one whose reader read once and left (the run waits
TAIL_WAIT for it, then ends). Recorded once, kept forever; never re-recorded to make a replay pass.
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
from core.models import AgentRequest
from tests.conftest import DEMO, scripted_provider, strict_worker
from tests.live_stack import running_server
from tests.record_histories import HISTORIES, _call

FOLLOWED = f"{DEMO.name}.live_tail_followed"
LEFT = f"{DEMO.name}.live_tail_reader_left"
TASKS = {FOLLOWED: "[tail] what is pay_ABC123? (followed)", LEFT: "[tail] what is pay_ABC123? (left)"}


def _script() -> list[ScriptedReply]:
    lookup = _call("get_transaction", transaction_id="pay_ABC123")
    return [lookup.model_copy(update={"delay_s": 0.5}), ScriptedReply(content="A 49.99 USD charge.")]


async def record_tail(tmp: Path) -> None:
    paths = {name: HISTORIES / f"{name}.json" for name in TASKS}
    if any(path.exists() for path in paths.values()):
        return
    with contextlib.ExitStack() as server:
        address, _ = await asyncio.to_thread(server.enter_context, running_server(tmp))
        client = await connect(Settings(temporal_address=address, data_dir=tmp / "data"))
        provider = scripted_provider({task: _script() for task in TASKS.values()}, streams=True)
        async with strict_worker(client, "record-tail", provider, Store.open(tmp)):
            runs = AgentClient(client, "record-tail")
            for name, task in TASKS.items():
                request = AgentRequest(task=task, agent=DEMO.name, user_id="tester")
                handle = await runs.start(request, workflow_id=f"recorded-{name.split('.')[1]}")
                async for _ in WorkflowStreamClient.create(client, handle.id).subscribe():
                    if name == LEFT:
                        break
                result = await handle.result()
                history = await handle.fetch_history()
                paths[name].write_text(history.to_json())
                print(f"{name}: {result.status.value}, {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(record_tail(Path(tempfile.mkdtemp())))
