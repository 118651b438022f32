"""The music-entity catalog: cards built from MusiCRS or a user's file, the offline
embedding function, the Chroma store (embedded or server), hybrid search and the
leak-free per-fold views used during evaluation.

Must never import ``agent``, ``demo`` or ``evals`` internals (it may read the dataset
loader ``evals.data``).
"""
