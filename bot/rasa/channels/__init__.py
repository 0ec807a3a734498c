"""Rasa input channels of our own (named in credentials.yml by their import path)."""
