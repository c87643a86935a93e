"""Every error the ECR API answers with, in AWS's JSON shape (`{"__type": ..., "message": ...}`),
and the one place that turns exceptions into such responses.

Each condition is a row: the AWS error name (as the botocore model spells it), HTTP status and
default message. Handlers raise ``AwsError(Fault.X)`` or let a store error propagate; store
errors map through ``_STORE_FAULTS``.
"""

from __future__ import annotations

import json
import logging
import uuid
from enum import Enum
from typing import Any, NamedTuple

from starlette.responses import Response

from storage import errors as store
from storage.drivers.base import StorageUnavailable

JSON_11 = "application/x-amz-json-1.1"

log = logging.getLogger("cais.ecr")


class _Row(NamedTuple):
    name: str
    status: int
    message: str


class Fault(Enum):
    # Protocol-level errors common to every AWS JSON service.
    SERIALIZATION = _Row("SerializationException", 400, "the request body is not valid JSON of the expected shape")
    UNKNOWN_OPERATION = _Row("UnknownOperationException", 400, "unknown operation")
    INCOMPLETE_SIGNATURE = _Row("IncompleteSignatureException", 400, "the request signature is malformed")
    MISSING_AUTHENTICATION = _Row("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    UNRECOGNIZED_CLIENT = _Row(
        "UnrecognizedClientException", 400, "The security token included in the request is invalid."
    )
    INVALID_SIGNATURE = _Row("InvalidSignatureException", 400, "The request signature we calculated does not match")
    ACCESS_DENIED = _Row("AccessDeniedException", 400, "not authorized to perform this operation")
    # ECR's modeled errors.
    INVALID_PARAMETER = _Row("InvalidParameterException", 400, "invalid parameter")
    VALIDATION = _Row("ValidationException", 400, "validation error")
    INVALID_TAG_PARAMETER = _Row("InvalidTagParameterException", 400, "invalid tag parameter")
    TOO_MANY_TAGS = _Row("TooManyTagsException", 400, "too many tags")
    REPOSITORY_NOT_FOUND = _Row("RepositoryNotFoundException", 400, "the repository does not exist")
    REPOSITORY_ALREADY_EXISTS = _Row("RepositoryAlreadyExistsException", 400, "the repository already exists")
    REPOSITORY_NOT_EMPTY = _Row("RepositoryNotEmptyException", 400, "the repository still contains images")
    REPOSITORY_POLICY_NOT_FOUND = _Row("RepositoryPolicyNotFoundException", 400, "no repository policy")
    IMAGE_NOT_FOUND = _Row("ImageNotFoundException", 400, "the image does not exist")
    IMAGE_ALREADY_EXISTS = _Row("ImageAlreadyExistsException", 400, "the image has already been pushed")
    IMAGE_TAG_ALREADY_EXISTS = _Row("ImageTagAlreadyExistsException", 400, "the image tag already exists")
    IMAGE_DIGEST_MISMATCH = _Row("ImageDigestDoesNotMatchException", 400, "the image digest does not match")
    LAYERS_NOT_FOUND = _Row("LayersNotFoundException", 400, "the image layers do not exist")
    REFERENCED_IMAGES_NOT_FOUND = _Row("ReferencedImagesNotFoundException", 400, "referenced images do not exist")
    UPLOAD_NOT_FOUND = _Row("UploadNotFoundException", 400, "the upload does not exist")
    INVALID_LAYER = _Row("InvalidLayerException", 400, "the layer digest does not match the uploaded content")
    INVALID_LAYER_PART = _Row("InvalidLayerPartException", 400, "the layer part is not where the upload ends")
    LAYER_ALREADY_EXISTS = _Row("LayerAlreadyExistsException", 400, "the layer already exists in the repository")
    EMPTY_UPLOAD = _Row("EmptyUploadException", 400, "the upload has no layer parts")
    LIFECYCLE_POLICY_NOT_FOUND = _Row("LifecyclePolicyNotFoundException", 400, "no lifecycle policy")
    PREVIEW_NOT_FOUND = _Row("LifecyclePolicyPreviewNotFoundException", 400, "no lifecycle policy preview")
    LIMIT_EXCEEDED = _Row("LimitExceededException", 400, "limit exceeded")
    SCAN_NOT_FOUND = _Row("ScanNotFoundException", 400, "the image has not been scanned")
    UNSUPPORTED_IMAGE_TYPE = _Row("UnsupportedImageTypeException", 400, "the image type is not supported")
    SERVER = _Row("ServerException", 500, "internal server error")


class AwsError(Exception):
    def __init__(self, fault: Fault, message: str | None = None, **members: Any) -> None:
        super().__init__(message or fault.value.message)
        self.fault = fault
        self.message = message or fault.value.message
        self.members = members  # extra modeled members (InvalidLayerPartException has some)


_STORE_FAULTS: dict[type[Exception], Fault] = {
    store.NameUnknown: Fault.REPOSITORY_NOT_FOUND,
    store.RepositoryExists: Fault.REPOSITORY_ALREADY_EXISTS,
    store.RepositoryNotEmpty: Fault.REPOSITORY_NOT_EMPTY,
    store.LabelInvalid: Fault.INVALID_TAG_PARAMETER,
    store.TooManyLabels: Fault.TOO_MANY_TAGS,
    store.SettingInvalid: Fault.INVALID_PARAMETER,
    store.TagImmutable: Fault.IMAGE_TAG_ALREADY_EXISTS,
    store.ImageAlreadyExists: Fault.IMAGE_ALREADY_EXISTS,
    store.ManifestInvalid: Fault.INVALID_PARAMETER,
    store.ManifestTooLarge: Fault.INVALID_PARAMETER,
    store.ManifestChildUnknown: Fault.REFERENCED_IMAGES_NOT_FOUND,
    store.ManifestBlobUnknown: Fault.LAYERS_NOT_FOUND,
    store.ManifestUnknown: Fault.IMAGE_NOT_FOUND,
    store.DigestMismatch: Fault.IMAGE_DIGEST_MISMATCH,
    store.BlobUnknown: Fault.LAYERS_NOT_FOUND,
    store.UploadUnknown: Fault.UPLOAD_NOT_FOUND,
    store.UploadOutOfOrder: Fault.INVALID_LAYER_PART,
    store.UploadSizeInvalid: Fault.INVALID_LAYER_PART,
    store.UploadBusy: Fault.INVALID_LAYER_PART,
}


def as_aws_error(exc: Exception) -> AwsError:
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, store.StoreError):
        for cls in type(exc).__mro__:
            if cls in _STORE_FAULTS:
                return AwsError(_STORE_FAULTS[cls], exc.message)
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return AwsError(Fault.SERVER, "storage is unavailable, retry later")
    log.exception("unhandled error in the ECR API", exc_info=exc)
    return AwsError(Fault.SERVER)


def error_response(exc: Exception) -> Response:
    err = as_aws_error(exc)
    name = err.fault.value.name
    body = json.dumps({"__type": name, "message": err.message, **err.members})
    headers = {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": name}
    return Response(body, status_code=err.fault.value.status, media_type=JSON_11, headers=headers)
