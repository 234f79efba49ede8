"""The Streamlit glue, grouped by screen over a shared shell and the shared sync dialog."""
