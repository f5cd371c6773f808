"""Sessions: a conversation between two participants through proxy numbers."""
