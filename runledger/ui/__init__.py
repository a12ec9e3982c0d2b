"""The web UI: static ES modules served by the API's own app, reading the public HTTP API.

No Python renders pages: ``routes.py`` answers every ``/ui/*`` path with the same app shell (so
any deep link pastes), serves ``static/`` under a strict Content-Security-Policy, and sends ``/``
to ``/ui/``. The pages call ``/api/v1`` with the tab's bearer token, so they show exactly what the
API would return to that caller. Nothing here imports the rest of runledger.
"""
