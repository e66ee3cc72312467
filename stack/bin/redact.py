#!/usr/bin/env python3
"""Copy stdin to stdout with every secret value of stack/.env (and any JWT) replaced by
[REDACTED]. Used wherever the stack's own logs are shown (make up failures, make logs).

Runs with the host's python3, without the suite's venv: suite.target and suite.redaction
need only the standard library, and hold the one list of secret keys."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from suite import redaction  # noqa: E402
from suite.target import TargetConfigError, read_env_file, secret_values  # noqa: E402


def main() -> None:
    env_file = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "stack" / ".env"
    try:
        redaction.register(*secret_values(read_env_file(env_file)))
    except TargetConfigError as exc:  # the logs still pass, JWTs still masked
        print(f"redact.py: {exc}", file=sys.stderr)
    for line in sys.stdin:
        sys.stdout.write(redaction.redact(line))


if __name__ == "__main__":
    main()
