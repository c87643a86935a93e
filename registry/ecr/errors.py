"""Every error the ECR API answers with, in AWS's JSON shape, and how store errors map to them.

Handlers raise ``AwsError(Fault.X)`` or let a store error propagate; store errors map through
``_STORE_FAULTS``.
"""

from __future__ import annotations

import logging

from storage import errors as store
from storage.drivers.base import StorageUnavailable

from ..aws.errors import AwsError, Common, Row

log = logging.getLogger("cais.ecr")


class Fault(Common):
    # ECR's modeled errors.
    INVALID_TAG_PARAMETER = Row("InvalidTagParameterException", 400, "invalid tag parameter")
    TOO_MANY_TAGS = Row("TooManyTagsException", 400, "too many tags")
    REPOSITORY_NOT_FOUND = Row("RepositoryNotFoundException", 400, "the repository does not exist")
    REPOSITORY_ALREADY_EXISTS = Row("RepositoryAlreadyExistsException", 400, "the repository already exists")
    REPOSITORY_NOT_EMPTY = Row("RepositoryNotEmptyException", 400, "the repository still contains images")
    REPOSITORY_POLICY_NOT_FOUND = Row("RepositoryPolicyNotFoundException", 400, "no repository policy")
    IMAGE_NOT_FOUND = Row("ImageNotFoundException", 400, "the image does not exist")
    IMAGE_ALREADY_EXISTS = Row("ImageAlreadyExistsException", 400, "the image has already been pushed")
    IMAGE_TAG_ALREADY_EXISTS = Row("ImageTagAlreadyExistsException", 400, "the image tag already exists")
    IMAGE_DIGEST_MISMATCH = Row("ImageDigestDoesNotMatchException", 400, "the image digest does not match")
    LAYERS_NOT_FOUND = Row("LayersNotFoundException", 400, "the image layers do not exist")
    REFERENCED_IMAGES_NOT_FOUND = Row("ReferencedImagesNotFoundException", 400, "referenced images do not exist")
    UPLOAD_NOT_FOUND = Row("UploadNotFoundException", 400, "the upload does not exist")
    INVALID_LAYER = Row("InvalidLayerException", 400, "the layer digest does not match the uploaded content")
    INVALID_LAYER_PART = Row("InvalidLayerPartException", 400, "the layer part is not where the upload ends")
    LAYER_ALREADY_EXISTS = Row("LayerAlreadyExistsException", 400, "the layer already exists in the repository")
    EMPTY_UPLOAD = Row("EmptyUploadException", 400, "the upload has no layer parts")
    LIFECYCLE_POLICY_NOT_FOUND = Row("LifecyclePolicyNotFoundException", 400, "no lifecycle policy")
    PREVIEW_NOT_FOUND = Row("LifecyclePolicyPreviewNotFoundException", 400, "no lifecycle policy preview")
    LIMIT_EXCEEDED = Row("LimitExceededException", 400, "limit exceeded")
    SERVER = Row("ServerException", 500, "internal server error")


_STORE_FAULTS: dict[type[Exception], Row] = {
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
