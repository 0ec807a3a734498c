"""Real local stand-ins for the outside services the assistant talks to."""
