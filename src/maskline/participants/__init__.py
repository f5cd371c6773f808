"""Participants: the two people of a session, each with the proxy number they see."""
