"""Routing: inbound texts and calls to a proxy number, relayed to the other participant."""
