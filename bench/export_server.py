"""The export route alone, served by granian (the ASGI server of the app's production mode)
so the benchmark can read the serving process's memory without the rest of the app."""

from __future__ import annotations

import os

os.environ.setdefault("PMS_ENV", "test")
os.environ.setdefault("PMS_EMBEDDED_DB", "pms_bench")

from starlette.applications import Starlette

from pms_dashboard.exports.routes import routes

app = Starlette(routes=routes)
