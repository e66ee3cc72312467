"""Access policy as code (docs/targets.md, "Access spec"): the operator's own tables
checked live, in one transaction that is always rolled back.

spec.py     the YAML spec: load and validate (`access.yaml` per target)
probe.py    the live check: impersonate each identity as PostgREST does, observe what it can do
draft.py    a starter spec drafted from the live policies and grants (`make access-spec`)
The pure judges (expected vs seen, coverage, the matrix) are in suite/checks/access.py.
"""
