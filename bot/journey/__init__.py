"""The journey store: customers across channels, touchpoints, handoffs and what CX measures."""
