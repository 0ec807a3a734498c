"""Business policies and the guard that keeps the assistant from answering with a bare no."""
