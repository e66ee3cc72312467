#!/usr/bin/env python3
"""Copy stdin to stdout with every secret value of stack/.env replaced by [REDACTED].

Used wherever the stack's own logs are shown (make up failures, make logs)."""
import sys
from pathlib import Path

SECRET_HINTS = ("PASSWORD", "SECRET", "KEY", "TOKEN")


def secret_values(env_file: Path) -> list[str]:
    values = []
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#") and any(h in key for h in SECRET_HINTS):
                value = value.strip().strip('"').strip("'")
                if len(value) >= 8:
                    values.append(value)
    return sorted(values, key=len, reverse=True)


def main() -> None:
    env_file = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / ".env"
    values = secret_values(env_file)
    for line in sys.stdin:
        for v in values:
            line = line.replace(v, "[REDACTED]")
        sys.stdout.write(line)


if __name__ == "__main__":
    main()
