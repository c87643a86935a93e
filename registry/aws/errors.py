"""Errors in AWS's JSON shape (`{"__type": ..., "message": ...}`), and the one place that
turns them into responses.

Each condition is a row: the AWS error name (as the botocore model spells it), HTTP status and
default message. `Common` holds the protocol-level rows every AWS JSON service answers with;
each service's table (registry/ecr/errors.py, registry/ecs/errors.py, ...) extends it with its
modeled errors and says how its domain errors map to rows.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, NamedTuple

from starlette.responses import Response

JSON_11 = "application/x-amz-json-1.1"


class Row(NamedTuple):
    name: str
    status: int
    message: str


class Common:
    SERIALIZATION = Row("SerializationException", 400, "the request body is not valid JSON of the expected shape")
    UNKNOWN_OPERATION = Row("UnknownOperationException", 400, "unknown operation")
    INCOMPLETE_SIGNATURE = Row("IncompleteSignatureException", 400, "the request signature is malformed")
    MISSING_AUTHENTICATION = Row("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    UNRECOGNIZED_CLIENT = Row(
        "UnrecognizedClientException", 400, "The security token included in the request is invalid."
    )
    INVALID_SIGNATURE = Row("InvalidSignatureException", 400, "The request signature we calculated does not match")
    ACCESS_DENIED = Row("AccessDeniedException", 400, "not authorized to perform this operation")
    INVALID_PARAMETER = Row("InvalidParameterException", 400, "invalid parameter")
    VALIDATION = Row("ValidationException", 400, "validation error")


class AwsError(Exception):
    def __init__(self, fault: Row, message: str | None = None, **members: Any) -> None:
        super().__init__(message or fault.message)
        self.fault = fault
        self.message = message or fault.message
        self.members = members  # extra modeled members (InvalidLayerPartException has some)


def error_response(err: AwsError) -> Response:
    name = err.fault.name
    body = json.dumps({"__type": name, "message": err.message, **err.members})
    headers = {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": name}
    return Response(body, status_code=err.fault.status, media_type=JSON_11, headers=headers)
