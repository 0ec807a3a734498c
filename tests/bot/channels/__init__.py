"""Tests of bot/channels/."""
