"""The floor for the turn benchmark: Rasa's REST channel contract answered by an echo.

Usage: .venv/bin/python bench/echo_server.py --port PORT

Sanic 21.12 (Rasa's own web stack), one worker, no access log, as `rasa run` serves: what is
left of a turn's latency here is HTTP, JSON and the event loop, the cost no assistant can
go below on this machine.
"""

from __future__ import annotations

import argparse

from sanic import Sanic, response


def create_app() -> Sanic:
    """A Sanic app with `/` (ready check) and `POST /webhooks/rest/webhook` (echo)."""
    app = Sanic("echo_floor")

    @app.get("/")
    async def health(_request):
        return response.text("echo floor")

    @app.post("/webhooks/rest/webhook")
    async def echo(request):
        body = request.json or {}
        return response.json([{"recipient_id": body.get("sender"), "text": body.get("message")}])

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    create_app().run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
