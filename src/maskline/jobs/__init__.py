"""Scheduled jobs: timed work the worker carries out, such as a sandbox call ringing."""
