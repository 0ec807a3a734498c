"""Tests of bot/rasa/channels/."""
