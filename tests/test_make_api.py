"""`make api`'s last step (`python -m cli.devserver start-api`): the API comes up on AGENT_API_PORT
over a running server and worker, prints its address and an approver token that works, and
`make stop` (`python -m cli.devserver stop`) stops it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.live_stack import REPO, free_port, running_stack


def test_start_api_serves_on_the_port_with_a_working_token_and_stop_ends_it(tmp_path: Path) -> None:
    with running_stack(tmp_path) as stack:
        port = free_port()
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "TEMPORAL_ADDRESS": stack.address,
            "AGENT_TASK_QUEUE": stack.queue,
            "AGENT_DATA_DIR": str(tmp_path / "api-data"),
            "AGENT_API_PORT": str(port),
        }
        devserver = [sys.executable, "-m", "cli.devserver"]
        started = subprocess.run([*devserver, "start-api"], cwd=REPO, env=env, capture_output=True,
                                 text=True, timeout=90)  # fmt: skip
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            assert f"http://127.0.0.1:{port}/inbox" in started.stdout
            token = re.search(r"token for the inbox \(shown once\): (agt_\S+)", started.stdout)
            assert token is not None, started.stdout
            bearer = {"Authorization": f"Bearer {token.group(1)}"}
            listed = httpx.get(f"http://127.0.0.1:{port}/v1/approvals", headers=bearer, timeout=10)
            assert listed.status_code == 200 and listed.json() == []
            refused = httpx.get(f"http://127.0.0.1:{port}/v1/approvals", timeout=10)
            assert refused.status_code == 401
        finally:
            stopped = subprocess.run([*devserver, "stop"], cwd=REPO, env=env, capture_output=True,
                                     text=True, timeout=60)  # fmt: skip
        assert "api: stopped" in stopped.stdout, stopped.stdout
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2)
            raise AssertionError("the API still answers after stop")
        except httpx.ConnectError:
            pass
