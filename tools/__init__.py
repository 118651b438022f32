"""LangChain tools and what they wrap: audio ingest (uploads, YouTube via yt-dlp), audio
description (DSP features, tags, lyrics) and catalog search/lookup.

Audio modules: ``audio`` (decode + limits, :class:`~tools.audio.AudioInputError`),
``youtube`` (links, yt-dlp, cache), ``dsp``, ``tagger`` (musicnn worker process),
``lyrics`` (Whisper), ``describe`` (:func:`~tools.describe.describe_audio`), ``audio_tools``
(``AUDIO_TOOLS`` for the agent), ``sound`` (sound vectors for the sound index),
``sound_tools`` (``find_similar_sounding``), ``synthetic_music`` (the rendered MIDI corpus),
CLIs ``describe``, ``fetch_musicrs_audio``, ``bench``, ``sound`` and ``sound_bench``.
Heavy libraries load lazily, so importing a module here is cheap.

May import ``vectorstore``; must never import ``agent``, ``demo`` or ``evals``.
"""
