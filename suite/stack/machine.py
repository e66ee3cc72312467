"""The machine running a stack, through testinfra: `local://`, or the target's SUITE_HOST
(`ssh://user@host`); its containers through `docker://` locally and `docker exec` over ssh.
Every Docker command of the suite runs here, so a remote machine works like the local one."""
from __future__ import annotations

from urllib.parse import urlsplit

import testinfra

from .. import redaction
from ..target import Target

HOST_KEY = "SUITE_HOST"
BACKENDS = ("local", "ssh", "paramiko")


class StackError(AssertionError):
    """A command on the stack or its machine failed, or was refused (the message says why)."""


def declared(target: Target, key: str) -> str:
    value = target.env.get(key, "").strip()
    return "" if value.lower() == "absent" else value


def host_spec(target: Target) -> str:
    """The machine's testinfra address: SUITE_HOST, else this machine."""
    spec = declared(target, HOST_KEY) or "local://"
    url = urlsplit(spec)
    if url.scheme not in BACKENDS:
        raise StackError(f"target configuration: {HOST_KEY} in {target.name} must be ssh://[user@]host[:port] "
                         f"(or paramiko://..., local://); its value has "
                         + (f"scheme {url.scheme!r}" if url.scheme else "no scheme"))
    if url.password:
        redaction.register(url.password)
    return spec


class Machine:
    def __init__(self, spec: str):
        self.host = testinfra.get_host(spec)
        self.is_local = self.host.backend.NAME == "local"
        self.label = "the local machine" if self.is_local else f"host {urlsplit(spec).hostname}"

    def _run(self, host, command: str, *args: str):
        try:
            return host.run(command, *args)
        except RuntimeError as exc:  # testinfra's ssh backend: ssh itself failed (exit 255)
            detail = getattr(exc.args[0] if exc.args else None, "stderr", "") or str(exc)
            raise StackError(f"{self.label}: not reachable over ssh ({HOST_KEY}): "
                             f"{redaction.redact(detail.strip())[:300]}") from None

    @staticmethod
    def _output(result, what: str, where: str) -> str:
        if result.rc != 0:
            raise StackError(redaction.redact(f"{where}: {what} failed (exit {result.rc}):\n"
                                              f"{result.stdout.strip()[-1500:]}\n{result.stderr.strip()[-2500:]}"))
        return result.stdout

    def run(self, what: str, command: str, *args: str) -> str:
        """`command` with testinfra's %s quoting of `args`; stdout, or StackError naming `what`."""
        return self._output(self._run(self.host, command, *args), what, self.label)

    def docker(self, what: str, *args: str) -> str:
        return self.run(what, "docker" + " %s" * len(args), *args)

    def in_container(self, container: str, what: str, script: str) -> str:
        if self.is_local:
            result = self._run(testinfra.get_host(f"docker://{container}"), script)
        else:
            result = self._run(self.host, "docker exec %s /bin/sh -c %s", container, script)
        return self._output(result, what, f"container {container} on {self.label}")
