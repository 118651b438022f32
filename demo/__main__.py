"""``python -m demo``: prepare the catalog if needed and serve the chat on localhost."""

from demo.app import main

main()
