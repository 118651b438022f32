"""The Gradio chat demo (``demo/app.py``). Imports ``agent``; nothing imports ``demo``."""
