"""Services: a pool of numbers, its sessions, and the callbacks of both."""
