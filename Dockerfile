# Image for the agent worker (`python worker.py`). Built by the `worker` service in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Unprivileged runtime user; the source stays root-owned and read-only for it.
RUN groupadd --system --gid 10001 agent \
 && useradd --system --uid 10001 --gid agent --no-create-home --shell /usr/sbin/nologin agent

WORKDIR /app

# pyproject.toml (setuptools) declares the packages core, workflows, activities, cli and the
# modules worker, starter; .dockerignore keeps .venv, .data, tests and caches out of the context.
COPY . .
RUN pip install .

# Demo SQLite store (AGENT_DATA_DIR). The directory exists and is owned by the runtime user, so a
# fresh named volume mounted here inherits that ownership.
RUN mkdir -p /data && chown agent:agent /data
ENV AGENT_DATA_DIR=/data

USER agent

# Exec form, so `docker compose stop` signals Python itself (compose adds `init: true` so a
# minimal init runs as PID 1 and forwards SIGTERM to it).
CMD ["python", "worker.py"]
