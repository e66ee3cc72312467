"""Faults injected on purpose into the bundled (local) stack, and reverted exactly.

A fault is a small function that breaks one thing through an `Injection`: superuser SQL
inside the db container, a stopped container, or a Compose override (a modified copy of a
mounted file, or another environment value) applied by recreating the service. Every
change registers its undo before it is made, so leaving `injected()` (normally or by an
exception) always restores the stack as found. docs/faults.md lists the catalogue.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import yaml

from . import stack
from .clients import http_get
from .local_stack import LocalCompose
from .redaction import redact
from .target import Target
from .thresholds import LIMITS
from .waiting import poll

DB_SUPERUSER = "postgres"  # the local image's superuser (upstream images: supabase_admin)
COMMAND_TIMEOUT_S = 60


class FaultError(AssertionError):
    """A fault could not be injected or reverted (the message says which and why)."""


# ---- the target's containers ------------------------------------------------------------
def _run(what: str, cmd: list[str], stdin: str | None = None) -> str:
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if out.returncode != 0:
        raise FaultError(redact(f"{what}: {' '.join(cmd[:3])} ... exited {out.returncode}: "
                                f"{(out.stderr or out.stdout).strip()[-800:]}"))
    return out.stdout


class LocalStack:
    """The containers of the local target's Compose project."""

    def __init__(self, target: Target):
        if not target.is_local or not target.compose_project:
            raise FaultError(f"faults are injected into the local stack only, not into {target.name}")
        self.target = target
        self.project = target.compose_project
        self.compose = LocalCompose(target)

    def container(self, service: str) -> str:
        cid = stack.container_id(self.project, service)
        if not cid:
            raise FaultError(f"project {self.project} has no {service} container")
        return cid

    def sql(self, statement: str) -> str:
        """Run SQL as the database superuser inside the db container; rows as `a|b` lines."""
        return _run(f"psql in {self.project}/db", [
            "docker", "exec", "-i", self.container("db"), "psql", "-U", DB_SUPERUSER, "-d", "postgres",
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"], stdin=statement).strip()

    def stop(self, service: str) -> None:
        _run(f"stop {service}", ["docker", "stop", self.container(service)])

    def start(self, service: str) -> None:
        _run(f"start {service}", ["docker", "start", self.container(service)])

    def mount(self, service: str, name: str) -> tuple[Path, str]:
        """(host source, container destination) of the service's bind mount of file `name`."""
        mounts = json.loads(_run(f"inspect {service}", ["docker", "inspect", "-f", "{{json .Mounts}}",
                                                         self.container(service)]))
        for m in mounts:
            if m.get("Type") == "bind" and Path(m["Source"]).name == name:
                return Path(m["Source"]), m["Destination"]
        raise FaultError(f"{self.project}/{service} has no bind mount of {name}")

    def recreate(self, services: list[str], overlay: Path | None = None) -> None:
        """Recreate services from the project's own Compose files (plus `overlay`), waiting
        until they are healthy; without an overlay this restores their original config."""
        self.compose.run("up", "-d", "--no-deps", "--wait", *services,
                         overlays=(overlay,) if overlay else ())

    def services(self) -> dict[str, str]:
        """service -> "running/healthy", "exited", ... for every container of the project."""
        ids = _run("list containers", ["docker", "ps", "-aq", "--filter",
                                       f"label=com.docker.compose.project={self.project}"]).split()
        if not ids:
            return {}
        rows = _run("inspect containers", ["docker", "inspect", "-f",
                                           '{{index .Config.Labels "com.docker.compose.service"}} '
                                           "{{.State.Status}}{{if .State.Health}}/{{.State.Health.Status}}{{end}}",
                                           *ids])
        return dict(line.split(" ", 1) for line in rows.splitlines() if " " in line)


# ---- injecting ----------------------------------------------------------------------------
class Injection:
    """What faults use to break the stack; each change registers its undo first."""

    def __init__(self, local: LocalStack, undo: ExitStack, workdir: Path):
        self.stack, self._undo, self.workdir = local, undo, workdir
        self.overrides: dict[str, dict] = {}
        self.touched: set[str] = set()  # Compose services stopped or recreated

    def query(self, statement: str) -> str:
        return self.stack.sql(statement)

    def require(self, statement: str, why: str) -> None:
        """Refuse to inject when the stack is not in the state the fault and its revert assume."""
        if self.stack.sql(statement) != "t":
            raise FaultError(f"precondition failed: {why}")

    def sql(self, do: str, undo: str) -> None:
        """`undo` must be safe to run even when `do` failed half-way (idempotent)."""
        self._undo.callback(self.stack.sql, undo)
        self.stack.sql(do)

    def stop(self, service: str) -> None:
        self.touched.add(service)
        self._undo.callback(self.stack.start, service)
        self.stack.stop(service)

    def override(self, service: str, fragment: dict) -> None:
        """Compose override for `service`; all of them are applied in one recreate."""
        self.touched.add(service)
        merged = self.overrides.setdefault(service, {})
        for key, value in fragment.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            else:
                merged.setdefault(key, []).extend(value)

    def apply_overrides(self) -> None:
        if not self.overrides:
            return
        services = sorted(self.overrides)
        path = self.workdir / "fault-override.yaml"
        path.write_text(yaml.safe_dump({"services": self.overrides}, sort_keys=False))
        self._undo.callback(self.stack.recreate, services)  # back to the project's own config
        self.stack.recreate(services, path)


@dataclass(frozen=True)
class Fault:
    id: str
    how: str                                   # one line, for docs/faults.md and messages
    inject: Callable[[Injection], None]


@contextmanager
def injected(local: LocalStack, faults: Iterable[Fault]) -> Iterator[Injection]:
    """The faults in place for the body; reverted (last first) however the body ends."""
    with tempfile.TemporaryDirectory(prefix="sbacc-fault-") as tmp, ExitStack() as undo:
        injection = Injection(local, undo, Path(tmp))
        for fault in faults:
            fault.inject(injection)
        injection.apply_overrides()
        yield injection


# ---- the catalogue ------------------------------------------------------------------------
def _rls_off_on_notes(i: Injection) -> None:
    i.require("select relrowsecurity from pg_class where oid = 'public.notes'::regclass",
              "RLS is already off on public.notes")
    i.sql("ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY",
          "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY")


PERMISSIVE_POLICY = "suite_fault_anon_reads_every_note"


def _permissive_policy_on_notes(i: Injection) -> None:
    i.require(f"select not exists (select 1 from pg_policies where policyname = '{PERMISSIVE_POLICY}')",
              f"policy {PERMISSIVE_POLICY} already exists (a previous run left it?)")
    i.sql(f"CREATE POLICY {PERMISSIVE_POLICY} ON public.notes FOR SELECT TO anon USING (true)",
          f"DROP POLICY IF EXISTS {PERMISSIVE_POLICY} ON public.notes")


def _messages_unpublished(i: Injection) -> None:
    i.require("select exists (select 1 from pg_publication p join pg_publication_tables t using (pubname) "
              "where pubname = 'supabase_realtime' and not p.puballtables "
              "and t.schemaname = 'public' and t.tablename = 'messages')",
              "public.messages is not listed in publication supabase_realtime")
    i.sql("ALTER PUBLICATION supabase_realtime DROP TABLE public.messages", """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                         AND schemaname = 'public' AND tablename = 'messages') THEN
            ALTER PUBLICATION supabase_realtime ADD TABLE public.messages;
          END IF;
        END $$""")


def _anon_statement_timeout_reset(i: Injection) -> None:
    value = i.query("select split_part(c, '=', 2) from pg_roles, unnest(rolconfig) c "
                    "where rolname = 'anon' and c like 'statement_timeout=%'")
    if not re.fullmatch(r"[0-9]+(us|ms|s|min|h|d)?", value):
        raise FaultError(f"precondition failed: anon has no readable statement_timeout ({value!r})")
    i.sql("ALTER ROLE anon RESET statement_timeout", f"ALTER ROLE anon SET statement_timeout = '{value}'")


def _service_role_without_bypassrls(i: Injection) -> None:
    i.require("select rolbypassrls from pg_roles where rolname = 'service_role'",
              "service_role has no BYPASSRLS to take away")
    i.sql("ALTER ROLE service_role NOBYPASSRLS", "ALTER ROLE service_role BYPASSRLS")


def without_plugins(kong_yml: str, service: str, plugins: set[str]) -> str:
    """kong.yml with the named plugins removed from one service, edited as text: Kong and the
    local renderer substitute $VARS before parsing, so a YAML round trip would change meaning."""
    lines = kong_yml.splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines) if re.fullmatch(rf"\s*- name: {re.escape(service)}\s*", line)]
    if len(starts) != 1:
        raise FaultError(f"kong.yml: expected one service named {service}, found {len(starts)}")
    indent = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if lines[n].strip()
                and not lines[n].lstrip().startswith("#") and indent(lines[n]) <= indent(lines[start])), len(lines))
    keep, removed, skip_deeper_than = [], set(), None
    for line in lines[start:end]:
        if skip_deeper_than is not None and (not line.strip() or indent(line) > skip_deeper_than):
            continue
        skip_deeper_than = None
        m = re.fullmatch(r"(\s*)- name: ([\w-]+)\s*", line)
        if m and m.group(2) in plugins and indent(line) > indent(lines[start]):
            removed.add(m.group(2))
            skip_deeper_than = indent(line)
            continue
        keep.append(line)
    if removed != plugins:
        raise FaultError(f"kong.yml: service {service} has no plugin(s) {sorted(plugins - removed)}")
    return "".join(lines[:start] + keep + lines[end:])


def _rest_route_without_key_auth(i: Injection) -> None:
    source, destination = i.stack.mount("gateway", "kong.yml")
    # acl goes too: without key-auth it has no consumer to check (Kong refuses the pair).
    copy = i.workdir / "kong.yml"
    copy.write_text(without_plugins(source.read_text(), "rest-v1", {"key-auth", "acl"}))
    copy.chmod(0o644)
    i.override("gateway", {"volumes": [f"{copy}:{destination}:ro"]})


WRONG_CORS_ORIGINS = "https://wrong-origin.example"


def _cors_wrong_origins(i: Injection) -> None:
    i.override("gateway", {"environment": {"CORS_ALLOWED_ORIGINS": WRONG_CORS_ORIGINS}})


def _rest_jwt_secret_mismatch(i: Injection) -> None:
    # A fresh random secret: tokens signed by auth (the stack's JWT_SECRET) no longer verify.
    i.override("rest", {"environment": {"PGRST_JWT_SECRET": secrets.token_urlsafe(40)}})


def _stopped(service: str) -> Callable[[Injection], None]:
    return lambda i: i.stop(service)


def _exporter_stopped(service: str) -> Callable[[Injection], None]:
    """Stopped, and in effect only once Prometheus has scraped it as down: until its next
    scrape (up to one interval) `up` still says 1 and a check would pass on a broken stack."""
    def inject(i: Injection) -> None:
        i.stop(service)
        prometheus = i.stack.target.url("prometheus")

        def scraped_down() -> bool:
            r = http_get("prometheus", prometheus, "/api/v1/query", params={"query": f'up{{service="{service}"}} == 0'})
            return bool(r.json()["data"]["result"])
        poll(scraped_down, what=f"Prometheus sees {service} down", timeout=LIMITS.stack.prometheus_scrape_s, interval=1)
    return inject


CATALOGUE = {f.id: f for f in (
    Fault("rls-off-notes", "`ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY`", _rls_off_on_notes),
    Fault("permissive-policy-notes", f"`CREATE POLICY {PERMISSIVE_POLICY} ON public.notes FOR SELECT TO anon "
          "USING (true)`", _permissive_policy_on_notes),
    Fault("messages-unpublished", "`ALTER PUBLICATION supabase_realtime DROP TABLE public.messages`",
          _messages_unpublished),
    Fault("anon-statement-timeout-reset", "`ALTER ROLE anon RESET statement_timeout`",
          _anon_statement_timeout_reset),
    Fault("service-role-no-bypassrls", "`ALTER ROLE service_role NOBYPASSRLS`", _service_role_without_bypassrls),
    Fault("rest-route-without-key-auth", "gateway recreated with a copy of its kong.yml whose rest-v1 service "
          "lacks key-auth and acl", _rest_route_without_key_auth),
    Fault("cors-wrong-origins", f"gateway recreated with CORS_ALLOWED_ORIGINS={WRONG_CORS_ORIGINS}",
          _cors_wrong_origins),
    Fault("rest-jwt-secret-mismatch", "rest recreated with a random PGRST_JWT_SECRET", _rest_jwt_secret_mismatch),
    Fault("redis-down", "`docker stop` of the redis container", _stopped("redis")),
    Fault("auth-down", "`docker stop` of the auth container", _stopped("auth")),
    Fault("node-exporter-down", "`docker stop` of the node-exporter container, until Prometheus scrapes it down",
          _exporter_stopped("node-exporter")),
)}
