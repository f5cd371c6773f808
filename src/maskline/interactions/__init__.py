"""Interactions: each text or call relayed in a session, with its two legs."""
