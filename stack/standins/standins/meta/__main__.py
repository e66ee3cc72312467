"""python -m standins.meta — read-only postgres-meta stand-in."""
import asyncio

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from ..common.config import env_int
from ..common.web import install_uvloop, setup_logging
from .app import conninfo, make_app


async def main() -> None:
    setup_logging("standins.meta")

    async def configure(conn):
        await conn.set_autocommit(True)
        await conn.execute("SET default_transaction_read_only = on")

    pool = AsyncConnectionPool(conninfo(), min_size=1, max_size=4, open=False, configure=configure)
    await pool.open(wait=False)
    runner = web.AppRunner(make_app(pool), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", env_int("PG_META_PORT", 8080)).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    install_uvloop()
    asyncio.run(main())
