"""The sandbox: a simulated phone network inside Maskline, for development and tests."""
