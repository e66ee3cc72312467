"""The suite's command-line options, registered as a pytest plugin (entry point in
pyproject.toml) so they are known before pytest reads its arguments: `--target FILE`
with a space would otherwise be taken for a test path."""


def pytest_addoption(parser):
    group = parser.getgroup("supabase acceptance")
    group.addoption("--target", metavar="FILE", default=None,
                    help="env file describing a deployed stack (docs/targets.md); write --target=FILE; default: the bundled local stack")
    group.addoption("--allow-destructive", action="store_true", default=False,
                    help="let destructive tests run against a target that is not the local stack")
    group.addoption("--no-up", action="store_true", default=False,
                    help="never bring the local stack up; fail if it is not running")
