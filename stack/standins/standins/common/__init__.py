"""Small helpers shared by the stand-in services (env config, JWT, JSON/aiohttp, metrics)."""
