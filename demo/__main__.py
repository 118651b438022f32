"""``python -m demo``: get the agent and its catalog ready, then serve the chat on localhost."""

from demo.app import main

# The guard matters: the tagger's worker process is started with 'spawn', which imports
# this module again in the child, and must not start a second server there.
if __name__ == "__main__":
    main()
