"""What the dashboard's web server adds around Streamlit (serve.py): response headers Streamlit has no option for."""
