"""Versioned system prompts: each version a file with its changelog, and the channels that roll
one out (stable, canary). Part of an agent definition (core/agent.py), which re-exports them."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

VERSION_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


@dataclass(frozen=True)
class PromptVersion:
    version: str
    text: str
    changelog: str
    # Said to the model as a last user message once a call with side effects has succeeded, when
    # the next reply is most likely the answer: a small model keeps a reminder at the end of its prompt,
    # where the system prompt's rule on the answer's form is 2,000 tokens back (activities/llm/expand.py).
    after_action: str | None = None


STABLE, CANARY, PINNED = "stable", "canary", "pinned"  # the channel a run's prompt version came from
CHANNELS_FILE = "channels.json"


def canary_bucket(workflow_id: str) -> int:
    """0..99, the same for a workflow id on every worker and every replay (no randomness, no clock)."""
    return int(hashlib.sha256(workflow_id.encode()).hexdigest()[:8], 16) % 100


@dataclass(frozen=True)
class Channels:
    """Which prompt version new runs get: `stable`, and `canary` for `canary_percent` of workflow ids.

    Promote: `stable` becomes the canary's version and `canary` goes; rollback: `canary` goes (or 0 %).
    Both are configuration (`prompts/channels.json`), read when the worker starts; a run keeps the
    version it started with.
    """

    stable: str
    canary: str | None = None
    canary_percent: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.canary_percent <= 100:
            raise ValueError(f"canary_percent {self.canary_percent} must be within 0..100")

    def choose(self, workflow_id: str) -> tuple[str, str]:
        """(version, channel) of a new run with this workflow id."""
        if self.canary and canary_bucket(workflow_id) < self.canary_percent:
            return self.canary, CANARY
        return self.stable, STABLE


@dataclass(frozen=True)
class Instructions:
    """Versioned system prompts: a change of wording is a new version, with a changelog entry."""

    versions: tuple[PromptVersion, ...]
    current: str
    # How the user's task is put to the model; the part before {task} stays byte-identical across
    # runs, so a model server's prefix cache keeps matching.
    task_template: str = "{task}"
    # None: every run gets `current` (the stable channel).
    channels: Channels | None = None

    def __post_init__(self) -> None:
        names = [v.version for v in self.versions]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate prompt version in {names}")
        bad = [n for n in names if not re.match(VERSION_NAME, n)]
        if bad:
            raise ValueError(f"prompt versions {bad} must match {VERSION_NAME}")
        if self.current not in names:
            raise ValueError(f"current prompt version {self.current!r} is not one of {names}")
        if "{task}" not in self.task_template:
            raise ValueError("task_template must contain {task}")
        if any(not v.changelog.strip() for v in self.versions):
            raise ValueError("every prompt version needs a changelog entry")
        if self.channels is not None:
            named = {self.channels.stable, self.channels.canary or self.channels.stable}
            if unknown := sorted(named - set(names)):
                raise ValueError(f"channels name prompt versions {unknown} that are not among {names}")
            if self.channels.stable != self.current:
                raise ValueError(f"current {self.current!r} must be the stable channel's version")

    @property
    def rollout(self) -> Channels:
        return self.channels or Channels(stable=self.current)

    def knows(self, version: str) -> bool:
        return any(v.version == version for v in self.versions)

    def text(self, version: str | None = None) -> str | None:
        found = self.version(version)
        return found.text if found else None

    def version(self, version: str | None = None) -> PromptVersion | None:
        wanted = version or self.current
        return next((v for v in self.versions if v.version == wanted), None)

    @classmethod
    def from_dir(cls, directory: Path, current: str, task_template: str = "{task}") -> Instructions:
        """Every `<version>.md` file: a `changelog:` first line, an optional `after_action:` line
        (PromptVersion.after_action), a blank line, then the prompt.

        A `channels.json` beside them ({"stable": …, "canary": …, "canary_percent": …}) is the
        rollout's configuration, and its stable version then is the current one.
        """
        versions = tuple(_read_version(path) for path in sorted(directory.glob("*.md")))
        channels = _read_channels(directory / CHANNELS_FILE)
        current = channels.stable if channels else current
        return cls(versions=versions, current=current, task_template=task_template, channels=channels)


def _read_channels(path: Path) -> Channels | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Channels(
            stable=str(data["stable"]),
            canary=str(data["canary"]) if data.get("canary") else None,
            canary_percent=int(data.get("canary_percent", 0)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: expected {{stable, canary?, canary_percent?}}: {exc}") from None


HEADER_KEYS = ("changelog", "after_action")


def _read_version(path: Path) -> PromptVersion:
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    if list(fields)[:1] != ["changelog"] or not body.strip() or set(fields) - set(HEADER_KEYS):
        raise ValueError(
            f"{path}: expected 'changelog: …', an optional 'after_action: …' line, a blank line, "
            "then the prompt"
        )
    return PromptVersion(
        version=path.stem,
        text=body.strip(),
        changelog=fields["changelog"],
        after_action=fields.get("after_action") or None,
    )
