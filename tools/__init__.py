"""LangChain tools and what they wrap: audio ingest (uploads, YouTube via yt-dlp), audio
description (DSP features, tags, lyrics) and catalog search/lookup.

May import ``vectorstore``; must never import ``agent``, ``demo`` or ``evals``.
"""
