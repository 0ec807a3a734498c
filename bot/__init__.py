"""The core of the support assistant: plain Python, testable without a Rasa server."""
