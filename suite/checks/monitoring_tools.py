"""Runs promtool and amtool on the repository's monitoring files: the binary from PATH
when there is one, else from the local image that ships it (CI hosts have neither tool
installed). Several commands share one container start (`run_batch`): starting a
container costs seconds, the commands milliseconds. `start_batch` runs a batch in the
background, so promtool's unit tests (seconds of CPU) overlap the suite's other checks."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from suite.target import STACK

IMAGES = {"promtool": "supabase-acceptance/prometheus:local", "amtool": "supabase-acceptance/alertmanager:local"}
# Where the repository's folders appear inside the container (read-only mounts).
MOUNTS = {"promtool": (STACK / "prometheus", "/prom"), "amtool": (STACK / "alertmanager", "/am")}
TIMEOUT_S = 300
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitoring-tools")


class ToolUnavailable(Exception):
    """Neither the binary nor its image exists here (the message says which and how to get it)."""


@dataclass(frozen=True)
class Result:
    command: str
    returncode: int
    output: str  # stdout and stderr together, as the tool prints them


def _image_exists(image: str) -> bool:
    if not shutil.which("docker"):
        return False
    out = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30)
    return out.returncode == 0


def runner(tool: str, folder: Path | None = None) -> tuple[str, Path]:
    """('local' | image, the folder path as the tool sees it) for `tool`."""
    host_dir, mount = MOUNTS[tool]
    folder = folder or host_dir
    if shutil.which(tool):
        return "local", folder
    if _image_exists(IMAGES[tool]):
        return IMAGES[tool], Path(mount)
    raise ToolUnavailable(f"{tool} is not installed and image {IMAGES[tool]} does not exist "
                          f"(build it with `make images`)")


def run_batch(tool: str, commands: list[list[str]], folder: Path | None = None) -> list[Result]:
    """Run each command (argument lists, tool name first, paths relative to `folder`) in
    `folder` (default: the tool's stack folder), in one container when run from the image."""
    where, cwd = runner(tool, folder)
    mark = f"@@{uuid.uuid4().hex}@@"
    script = "".join(f"{shlex.join(c)} 2>&1; echo \"{mark}$?\"\n" for c in commands)
    if where == "local":
        cmd = ["sh", "-c", script]
        run_cwd = str(cwd)
    else:
        host = Path(folder or MOUNTS[tool][0]).resolve()
        name = f"suite-{tool}-{uuid.uuid4().hex[:8]}"
        cmd = ["docker", "run", "--rm", "--name", name, "--network", "none", "--entrypoint", "sh",
               "-v", f"{host}:{cwd}:ro", "-w", str(cwd), where, "-c", script]
        run_cwd = None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=run_cwd)
    except subprocess.TimeoutExpired:
        if where != "local":  # the container outlives its killed client otherwise
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
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
