"""PhoneNumbers: the phone numbers of a service's pool."""
