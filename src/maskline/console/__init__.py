"""The web console at /console: services, pools, sessions and their conversations, events,
callbacks, and the sandbox's phone simulator (pages.py), for one signed-in account at a time
(signin.py)."""
