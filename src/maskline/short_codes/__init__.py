"""ShortCodes: the short codes of a service's pool (messages only)."""
