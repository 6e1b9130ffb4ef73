"""Every failure the API answers is JSON `{type, message}`, `type` a class of core/errors.

    400 InvalidInputError      malformed JSON, a body or header that fails validation, a bogus Last-Event-ID
    401 AuthError              a missing, invalid or revoked bearer token
    403 PermissionDeniedError  a wrong role, or the run's starter approving their own run
    404 NotFoundError          an unknown run or route
    409 InvalidInputError      a call that is not pending, a wrong hash, a second decision
    410 NotFoundError          an approval whose deadline has passed
    413 PayloadTooLargeError   a body over MAX_BODY_BYTES
    503 DependencyDownError    Temporal, or every worker, does not answer

Anything else is a bug: logged with its traceback here, answered 500 without one.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowQueryFailedError
from temporalio.service import RPCError

from core.errors import (
    AgentError,
    AuthError,
    DependencyDownError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
)

log = structlog.get_logger()
MAX_BODY_BYTES = 1024 * 1024


class ApiError(Exception):
    """One refusal: the HTTP status and the taxonomy error it carries."""

    def __init__(self, status: int, error: AgentError) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


def error_body(type_name: str, message: str) -> dict[str, str]:
    return {"type": type_name, "message": message}


def _json(status: int, error: AgentError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(error.type_name, error.message), status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)  # registered for ApiError only
    challenge = {"WWW-Authenticate": "Bearer"} if isinstance(exc.error, AuthError) else None
    return _json(exc.status, exc.error, challenge)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return _json(400, InvalidInputError("the body is not valid JSON"))
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return _json(400, InvalidInputError(message[:500]))


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _json(404, NotFoundError("no such route"))
    if exc.status_code == 413:
        return _json(413, PayloadTooLargeError(f"the body is over {MAX_BODY_BYTES} bytes"))
    return _json(exc.status_code, InvalidInputError(str(exc.detail)[:500]))


async def _temporal_down(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    log.warning("api.temporal_error", status=exc.status.name, message=exc.message)
    return _json(503, DependencyDownError(f"Temporal did not answer: {exc.message}"))


async def _unanswered(_: Request, exc: Exception) -> JSONResponse:
    log.warning("api.query_unanswered", error=str(exc)[:300])
    return _json(503, DependencyDownError("no worker answered for the run; try again shortly"))


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api.unhandled", path=request.url.path)
    return JSONResponse(error_body("InternalError", "internal error; the API log has the details"), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RPCError, _temporal_down)
    app.add_exception_handler(WorkflowQueryFailedError, _unanswered)
    app.add_exception_handler(RPCTimeoutOrCancelledError, _unanswered)
    app.add_exception_handler(Exception, _bug)
