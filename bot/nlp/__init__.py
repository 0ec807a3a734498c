"""The project's own spaCy pipeline, built from code (no model downloads)."""
