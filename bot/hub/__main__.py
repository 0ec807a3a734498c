"""Run the hub on its own: ``python -m bot.hub [--host H] [--port P]`` (default 127.0.0.1:8000)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from bot.hub import HubSettings, run_hub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.hub", description=__doc__)
    parser.add_argument("--host", help="address to bind (CX_HUB_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (CX_HUB_PORT, default 8000)")
    args = parser.parse_args(argv)
    settings = HubSettings.from_env()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return run_hub(dataclasses.replace(settings, **overrides))


if __name__ == "__main__":
    sys.exit(main())
