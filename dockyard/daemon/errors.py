"""Docker's error responses: {"message": "..."} with the status code the error's kind calls for."""

from __future__ import annotations

import json

from aiohttp import web

from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArchive,
    InvalidArgument,
    InvalidDigest,
    InvalidReference,
    NotFound,
)


class ApiError(Exception):
    """An error a route raises directly with its status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def status_for(error: BaseException) -> int:
    if isinstance(error, ApiError):
        return error.status
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, (InvalidReference, InvalidArgument, InvalidDigest, InvalidArchive)):
        return 400
    if isinstance(error, DockyardError):
        return 400 if getattr(error, "exit_code", 1) in (125, 126, 127) else 500
    if isinstance(error, FileNotFoundError):
        return 404
    if isinstance(error, (PermissionError, IsADirectoryError, NotADirectoryError)):
        return 400
    return 500


def message_for(error: BaseException) -> str:
    if isinstance(error, (ApiError, DockyardError)):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror.lower()
        return f"{error.filename}: {text}" if error.filename else text
    return f"{type(error).__name__}: {error}"


def error_response(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode() + b"\n",
        content_type="application/json",
    )


def json_error_line(message: str) -> bytes:
    """An error inside a JSON progress stream (after the 200 headers went out)."""
    return json.dumps({"errorDetail": {"message": message}, "error": message}).encode() + b"\r\n"
