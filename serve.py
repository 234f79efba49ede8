"""The dashboard's entry point: `streamlit run serve.py` serves app.py (and pages/) through st.App, so the server can
add what Streamlit has no option for: security headers on every answer (ui/server/headers.py)."""

import streamlit as st
from starlette.middleware import Middleware

from ui.server.headers import SecurityHeaders

app = st.App("app.py", middleware=[Middleware(SecurityHeaders)])
