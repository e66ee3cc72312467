"""The suite's command-line options, registered as a pytest plugin (entry point in
pyproject.toml) so they are known before pytest parses its arguments. pytest still picks
its rootdir and ini file before any plugin loads, so there `--target FILE` (with a space)
counts as a test path: a file outside the project then hides the project's pytest.ini."""
from pathlib import Path

import pytest

PROJECT_INI = Path(__file__).resolve().parent.parent / "pytest.ini"


def pytest_addoption(parser):
    group = parser.getgroup("supabase acceptance")
    group.addoption("--target", metavar="FILE", default=None,
                    help="env file describing a deployed stack (docs/targets.md); write --target=FILE; default: the bundled local stack")
    group.addoption("--allow-destructive", action="store_true", default=False,
                    help="let destructive tests run against a target that is not the local stack")
    group.addoption("--no-up", action="store_true", default=False,
                    help="never bring the local stack up; fail if it is not running")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Without the project's ini there are no layers' markers, import paths or timeouts:
    # stop with the fix rather than with a page of import errors.
    inipath = getattr(config, "inipath", None)
    if config.getoption("target") and (inipath is None or Path(inipath).resolve() != PROJECT_INI):
        pytest.exit(f"pytest did not read {PROJECT_INI} (rootdir {config.rootpath}): run it from the project "
                    f"root and write the target as --target=FILE (with '='; pytest takes a bare path after "
                    f"--target for a test path when it looks for its ini file)", returncode=4)
