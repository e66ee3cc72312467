"""The one layer that reaches a stack (docs/architecture.md): Compose, containers, exec, the
superuser, undoable changes, the machine (testinfra), the suite's tools in containers
(`suite.stack.tools`) and the one destructive guard. No module outside this package runs
docker, docker compose or psql against the stack."""
from .changes import Changes  # noqa: F401
from .core import COMPOSE_BINARY, SUPERUSER, Stack, compose_config, refusal, running_services  # noqa: F401
from .machine import StackError  # noqa: F401
