"""The account's inventory of phone numbers and short codes, and their place in a service pool."""
