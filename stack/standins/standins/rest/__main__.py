"""python -m standins.rest — PostgREST-compatible REST service."""
import asyncio
import sys

from aiohttp import web

from ..common.web import install_uvloop, setup_logging
from .app import Config, State, make_admin_app, make_app, startup


async def main() -> None:
    log = setup_logging("standins.rest")
    try:
        config = Config()
    except ValueError as exc:
        log.error("configuration error: %s", exc)
        sys.exit(2)
    state = State(config)
    await startup(state)
    runners = []
    for app, port in ((make_app(state), state.config.port), (make_admin_app(state), state.config.admin_port)):
        if port is None:
            continue
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, state.config.host, port, backlog=1024).start()
        runners.append(runner)
    await asyncio.Event().wait()


if __name__ == "__main__":
    install_uvloop()
    asyncio.run(main())
