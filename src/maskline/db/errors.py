"""Which constraint a database refused, on SQLite and on PostgreSQL alike; and which failures
are PostgreSQL's way of asking for the transaction to be run again."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

# SQLite names the columns of a failed unique constraint, not the constraint.
_SQLITE_COLUMNS = {
    "participants.identifier, participants.proxy_number_sid": "uq_participants_active_pair",
    "participants.session_sid, participants.identifier": "uq_participants_session_sid_identifier",
    "participants.session_sid, participants.slot": "uq_participants_session_sid_slot",
    "services.account_sid, services.unique_name": "uq_services_account_sid_unique_name",
    "sessions.service_sid, sessions.unique_name": "uq_sessions_service_sid_unique_name",
    "numbers.kind, numbers.phone_number": "uq_numbers_kind_phone_number",
}


# serialization_failure, deadlock_detected: the transaction lost a race and changed nothing.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def must_run_again(error: BaseException) -> bool:
    """Whether `error` (or what it wraps) is a serialization failure or a deadlock."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return False
        wrapped = getattr(seen, "orig", None)
        state = getattr(seen, "sqlstate", None) or getattr(wrapped, "sqlstate", None)
        if state in RETRYABLE_SQLSTATES:
            return True
        seen = seen.__cause__ or wrapped
    return False


def violated_constraint(error: IntegrityError) -> str | None:
    orig = error.orig
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    message = str(orig)
    if "UNIQUE constraint failed: " in message:
        columns = message.split("UNIQUE constraint failed: ", 1)[1].strip()
        return _SQLITE_COLUMNS.get(columns, columns)
    if "CHECK constraint failed: " in message:
        return message.split("CHECK constraint failed: ", 1)[1].strip()
    return None
