"""The Slack channel's section of credentials.yml, read into the channel's arguments.

Secrets come from the environment variables credentials.yml names (by default the SLACK_*
variables bot/settings.py declares), looked up in the environment as the settings read it;
a literal secret in credentials.yml is refused, since secrets never live in committed
files. Apart from the channel (bot/rasa/channels/slack.py) because this is configuration, read
once when Rasa builds its channels, with rules of its own about where secrets may live.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rasa.shared.exceptions import InvalidConfigException

from bot.rasa.channels.slack_api import API_URL_ENV, CHANNEL_ENV, SIGNING_SECRET_ENV, TOKEN_ENV
from bot.settings import Settings


def refuse_literal_secrets(credentials: Mapping[str, Any]) -> None:
    """Raise ``InvalidConfigException`` if credentials.yml holds a token or signing secret."""
    for literal, env_key, default in (
        ("slack_token", "slack_token_env", TOKEN_ENV),
        ("slack_signing_secret", "slack_signing_secret_env", SIGNING_SECRET_ENV),
    ):
        if credentials.get(literal):
            raise InvalidConfigException(
                f"credentials.yml holds a literal '{literal}': secrets never live in "
                f"committed files. Remove it and set the environment variable named by "
                f"'{env_key}' (default {default}) instead."
            )


def channel_arguments(credentials: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """``ThreadedSlackInput``'s keyword arguments from its credentials.yml section, each
    secret read from the environment variable the section names (or the default one)."""
    return {
        "slack_token": _named_secret(credentials, settings, "slack_token_env", TOKEN_ENV),
        "slack_channel": _named_secret(credentials, settings, "slack_channel_env", CHANNEL_ENV)
        or None,
        "proxy": credentials.get("proxy"),
        "slack_retry_reason_header": credentials.get(
            "slack_retry_reason_header", "x-slack-retry-reason"
        ),
        "slack_retry_number_header": credentials.get(
            "slack_retry_number_header", "x-slack-retry-num"
        ),
        "errors_ignore_retry": credentials.get("errors_ignore_retry"),
        "use_threads": credentials.get("use_threads", True),
        "slack_signing_secret": _named_secret(
            credentials, settings, "slack_signing_secret_env", SIGNING_SECRET_ENV
        ),
        "conversation_granularity": credentials.get("conversation_granularity", "thread"),
        "slack_api_url": _named_secret(credentials, settings, "slack_api_url_env", API_URL_ENV),
    }


def previous_signing_secret(credentials: Mapping[str, Any], settings: Settings) -> str:
    """The signing secret before a rotation, accepted while its variable is set."""
    return _named_secret(
        credentials, settings, "slack_signing_secret_previous_env", SIGNING_SECRET_ENV + "_PREVIOUS"
    )


def _named_secret(
    credentials: Mapping[str, Any], settings: Settings, key: str, default: str
) -> str:
    # credentials.yml may rename the variables, so they are looked up by name in the
    # environment as it was read.
    value: str = settings.secrets.get(credentials.get(key) or default, "")
    return value.strip()
