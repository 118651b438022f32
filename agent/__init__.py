"""The conversational agent: settings, chat-model factory, prompts, the LangChain graph and
the turn API that the demo and the evals call.

May import ``tools`` and ``vectorstore``; must never import ``demo`` or ``evals``.
"""
