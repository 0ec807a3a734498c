"""Thin rasa_sdk actions: read slots, call one service in ``bot/``, return events."""
