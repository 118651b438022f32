"""The Gradio chat demo (``demo/app.py``). Imports ``agent`` (and ``tools`` only to check
pasted links and warm the audio models); nothing imports ``demo``."""
