"""The dashboard's entry point: `streamlit run serve.py` serves app.py (and pages/) through st.App, so the server can
add what Streamlit has no option for: security headers on every answer (ui/server/headers.py), and the HTTP API for
pipelines under /api/v1 (ranchersync/api; the same application `python -m ranchersync api` serves alone)."""

import streamlit as st
from starlette.middleware import Middleware
from starlette.routing import Mount

from ranchersync.api.app import create_app
from ui.server.headers import SecurityHeaders

app = st.App("app.py", routes=[Mount("/api/v1", app=create_app())], middleware=[Middleware(SecurityHeaders)])
