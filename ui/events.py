"""Options for the screens' event listeners: light handlers run alongside everything; model work one at a time.

Screen events are "private": the page calls them, API clients don't (the public API is `generate` and
`score_row`). Handlers that may raise a user error stay on the queue, which is what shows gr.Error toasts.
"""

QUICK = {"show_progress": "hidden", "concurrency_limit": None, "api_visibility": "private"}
PRIVATE = {"concurrency_limit": None, "api_visibility": "private"}
MODEL = {"concurrency_id": "model", "concurrency_limit": 1, "api_visibility": "private"}  # few CPU cores
