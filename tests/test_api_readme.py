"""The README's curl commands, run as written against a real stack: a dev server, worker.py and
`python -m api serve` under uvicorn; start, follow the SSE stream, approve with a token, read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api_stack import sse_frames
from tests.live_stack import REPO, Stack, free_port, running_stack

BIN = Path(sys.executable).parent


def readme_block() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- api-curl:begin -->", 1)[1].split("<!-- api-curl:end -->", 1)[0]
    return block.strip().removeprefix("```bash").removesuffix("```")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Stack, dict[str, str]]]:
    with running_stack(tmp_path) as stack:
        port = free_port()
        env = {
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "PYTHONPATH": str(REPO),
            "TEMPORAL_ADDRESS": stack.address,
            "AGENT_TASK_QUEUE": stack.queue,
            "AGENT_DATA_DIR": str(tmp_path / "api-data"),
            "AGENT_API_TOKENS": str(tmp_path / "tokens.db"),
            "AGENT_API_PORT": str(port),
        }
        with (tmp_path / "api.log").open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "api", "serve"], cwd=REPO, env=env, stdout=log, stderr=log
            )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while not _answers(url):
                assert server.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "api.log"
                ).read_text()
                time.sleep(0.2)
            yield url, stack, env
        finally:
            server.terminate()
            server.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/docs", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_readme_curl_commands_start_follow_approve_and_read(
    api: tuple[str, Stack, dict[str, str]], tmp_path: Path
) -> None:
    url, stack, env = api
    work = tmp_path / "shell"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block()],
        cwd=work, env={**env, "API": url}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    final = json.loads(done.stdout[done.stdout.rindex("{\n") :])
    assert final["state"] == "completed" and "re_" in final["answer"], final
    frames = sse_frames((work / "events.txt").read_text())
    assert [f["id"] for f in frames[:-1]] == list(range(len(frames) - 1))
    kinds = [f["data"]["kind"] for f in frames[:-1] if f["event"] == "progress"]  # not the `text` items
    assert "approval.waiting" in kinds and "approval.decided" in kinds and kinds[-1] == "ended"
    result = frames[-1]
    assert result["event"] == "result" and result["data"]["status"] == "completed"
    assert [a["actor"] for a in result["data"]["audit"] if a["event"] == "approved"] == ["alice"]
    assert stack.refunds("case-1001") == 1  # exactly one refund, keyed by the run
