"""Twilio-style API errors: each class carries its wire code and HTTP status.

ApiError
 ├── Unauthorized (20003, 401)
 ├── NotFound (20404, 404)
 ├── Forbidden (20403, 403)
 ├── MethodNotAllowed (20004, 405)
 ├── TooManyRequests (20429, 429)
 ├── CarrierUnavailable (20503, 503)
 ├── BodyTooLarge (20413, 413)
 ├── InvalidParameter (80701, 400) ── MissingParameter
 ├── ProxyError (the 80xxx rules of PROXY_BEHAVIOUR.md: 400, or 409 for PairConflict)
 └── InternalError (20500, 500)
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    code = 20500
    status = 500
    default_message = "Internal server error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details or None
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.details:
            body["details"] = self.details
        return body


class InternalError(ApiError):
    pass


class Unauthorized(ApiError):
    code, status = 20003, 401
    default_message = "Authenticate"
    # What the answer's WWW-Authenticate header asks for.
    challenge = 'Basic realm="Maskline"'


class BearerTokenRequired(Unauthorized):
    challenge = 'Bearer realm="Maskline"'


class NotFound(ApiError):
    code, status = 20404, 404
    default_message = "The requested resource was not found"


class Forbidden(ApiError):
    code, status = 20403, 403
    default_message = "Forbidden"


class CarrierUnavailable(ApiError):
    code, status = 20503, 503
    default_message = "The carrier could not be reached; try again"


class TooManyRequests(ApiError):
    code, status = 20429, 429
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MethodNotAllowed(ApiError):
    code, status = 20004, 405
    default_message = "Method not allowed"


class BodyTooLarge(ApiError):
    code, status = 20413, 413
    default_message = "Request body too large"


class InvalidParameter(ApiError):
    code, status = 80701, 400

    def __init__(self, name: str, problem: str = "is invalid") -> None:
        super().__init__(f"Invalid parameter {name}: {problem}")
        self.parameter = name


class MissingParameter(InvalidParameter):
    def __init__(self, name: str) -> None:
        super().__init__(name, "is required")


class ProxyError(ApiError):
    status = 400


class NumberInAnotherService(ProxyError):
    code = 80101
    default_message = "This number is already associated with another Proxy service"


class IdentifierAlreadyParticipant(ProxyError):
    code = 80103
    default_message = "This identifier is already, or was, a participant of this session"


class PhoneNumberAlreadyInService(ProxyError):
    code = 80104
    default_message = "This phone number is already in this service"


class ShortCodeAlreadyInService(ProxyError):
    code = 80105
    default_message = "This short code is already in this service"


class NoVoiceCapableNumber(ProxyError):
    code = 80201
    default_message = "No voice-capable proxy number is available for this participant"


class NoSmsCapableNumber(ProxyError):
    code = 80202
    default_message = "No SMS-capable proxy number is available for this participant"


class NoNumberInCountry(ProxyError):
    code = 80203
    default_message = "No proxy number is available in the participant's country"


class ServiceHasNoNumbers(ProxyError):
    code = 80205
    default_message = "The service has no phone numbers or short codes"


class NoNumberMatchesGeo(ProxyError):
    code = 80206
    default_message = (
        "No proxy number meets the geographic match, or all matching numbers are in use "
        "by this identifier"
    )


class OnlyReservedNumbers(ProxyError):
    code = 80207
    default_message = "Only reserved proxy numbers match this participant"


class AllNumbersInUse(ProxyError):
    code = 80208
    default_message = "All matching proxy numbers are already in use by this identifier"


class PhoneNumberNotOwned(ProxyError):
    code = 80301
    default_message = "The phone number was not found on this account"


class ShortCodeNotOwned(ProxyError):
    code = 80303
    default_message = "The short code was not found on this account"


class InvalidIdentifier(ProxyError):
    code = 80404
    default_message = "The identifier is not a valid phone number"


class PhoneNumberNotAvailable(ProxyError):
    code = 80601
    default_message = "The phone number is not available"


class ServiceUniqueNameTaken(ProxyError):
    code = 80602
    default_message = "A service with this unique name already exists"


class SessionUniqueNameTaken(ProxyError):
    code = 80603
    default_message = "A session with this unique name already exists in this service"


class PairAlreadyActive(ProxyError):
    code = 80604
    default_message = "This identifier already has an active session on this proxy identifier"


class ProxyIdentifierNotInService(ProxyError):
    code = 80605
    default_message = "The proxy identifier is not in this service's pool"


class ProxyIdentifierNotOwned(ProxyError):
    code = 80606
    default_message = "The proxy identifier is not owned by this account"


class SessionClosed(ProxyError):
    code = 80607
    default_message = "The session is closed"


class StatusChangeNotSupported(ProxyError):
    code = 80608
    default_message = "This session status change is not supported"


class TooManyParticipants(ProxyError):
    code = 80609
    default_message = "A session has at most two participants"


class NumberInUse(ProxyError):
    code = 80611
    default_message = "The number is in use by active sessions and cannot be removed"


class IdentifierNotAllowedInMode(ProxyError):
    code = 80616
    default_message = "This identifier type is only allowed in message-only sessions"


class PoolFull(ProxyError):
    code = 80622
    default_message = "The service's number pool is full"


class PairConflict(ProxyError):
    code, status = 80623, 409
    default_message = (
        "The participant would make an identifier and proxy identifier pair active in two "
        "sessions at once"
    )
