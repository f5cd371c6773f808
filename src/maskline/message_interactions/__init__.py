"""MessageInteractions: a message the app sends to one participant from their proxy number."""
