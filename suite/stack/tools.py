"""promtool, amtool and pg_prove, always in a helper container of the project's own local
image, whatever the host has installed, so every machine runs them one way. Helpers run as
the caller's uid (they read its files, e.g. pytest's mode-700 tmp_path), carry the label
`suite.helper=<tool>`, and have the image's Compose labels blanked (Docker cannot drop
them): they are never taken for a service of the stack. Several commands share one
container start (`run_batch`); `start_batch` runs a batch in the background, so promtool's
unit tests (seconds of CPU) overlap the suite's other checks."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..target import STACK
from .core import HELPER_LABEL

# tool -> (image, the folder mounted by default)
TOOLS = {"promtool": ("supabase-acceptance/prometheus:local", STACK / "prometheus"),
         "amtool": ("supabase-acceptance/alertmanager:local", STACK / "alertmanager"),
         "pg_prove": ("supabase-acceptance/db:local", STACK / "db" / "tests")}
WORKDIR = "/work"  # where the folder appears inside the container (read-only)
TIMEOUT_S = 300
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stack-tools")


class ToolUnavailable(Exception):
    """The tool's image does not exist here (the message says how to build it)."""


@dataclass(frozen=True)
class Result:
    command: str
    returncode: int
    output: str  # stdout and stderr together, as the tool prints them


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ToolUnavailable("docker is not installed: the suite's tools run in containers") from None


def _labels(image: str, tool: str) -> list[str]:
    """--label options: the helper's own, and the image's Compose labels blanked."""
    out = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
    if out.returncode != 0:
        raise ToolUnavailable(f"{tool}: image {image} does not exist (build it with `make images`)")
    blank = [f"{k}=" for k in json.loads(out.stdout) or {} if k.startswith("com.docker.compose.")]
    return [opt for label in (f"{HELPER_LABEL}={tool}", *blank) for opt in ("--label", label)]


def run_batch(tool: str, commands: list[list[str]], folder: Path | None = None, *,
              network: str = "none", env: dict | None = None) -> list[Result]:
    """Run each command (argument lists, tool name first, paths relative to `folder`,
    default the tool's stack folder) in one helper container."""
    image, default = TOOLS[tool]
    mark = f"@@{uuid.uuid4().hex}@@"
    script = "".join(f"{shlex.join(c)} 2>&1; echo \"{mark}$?\"\n" for c in commands)
    name = f"suite-{tool.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    cmd = ["run", "--rm", "--name", name, *_labels(image, tool), "--network", network,
           "--user", f"{os.getuid()}:{os.getgid()}", "--entrypoint", "sh",
           "-v", f"{Path(folder or default).resolve()}:{WORKDIR}:ro", "-w", WORKDIR,
           *(opt for k in (env or {}) for opt in ("-e", k)), image, "-c", script]
    try:
        out = subprocess.run(["docker", *cmd], capture_output=True, text=True, timeout=TIMEOUT_S,
                             env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        _docker("rm", "-f", name)  # the container outlives its killed client otherwise
        raise RuntimeError(f"{tool}: {len(commands)} commands did not finish within {TIMEOUT_S} s") from None
    chunks = out.stdout.split(mark)
    if len(chunks) != len(commands) + 1:
        raise RuntimeError(f"{tool} batch did not run to the end (exit {out.returncode}): "
                           f"{(out.stdout + out.stderr)[-2000:]}")
    results = []
    for i, c in enumerate(commands):
        body = chunks[i]
        if i:  # each later chunk starts with the previous command's exit code line
            body = body.split("\n", 1)[1] if "\n" in body else ""
        code = int(chunks[i + 1].split("\n", 1)[0].strip() or 1)
        results.append(Result(shlex.join(c), code, body))
    return results


def start_batch(tool: str, commands: list[list[str]], folder: Path | None = None) -> Future:
    """run_batch in a background thread; `.result()` returns its results or raises as it would."""
    return _background.submit(run_batch, tool, commands, folder)
