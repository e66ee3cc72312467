"""Configuration checks as pure functions.

Each check takes parsed configuration (a dict from YAML or `docker compose config`, rows
read from the database, an env mapping) and returns a list of problem strings; an empty
list means the check passed. Every problem names the misconfiguration and where it is
(file, service, route, key). `tests/infra` runs the checks against the real files and the
live target; `tests/unit/test_checks_*.py` feeds them deliberately broken copies.
"""
