"""The Streamlit glue: the frame, cached reads, actions and widgets shared by app.py and pages/."""
