"""Layer operations: availability checks, the part-by-part upload (reusing the OCI upload
engine), and download URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from storage.digest import Digest, DigestError
from storage.errors import BlobUnknown, DigestMismatch, UploadOutOfOrder

from ..api.common import blob_url
from ..aws.call import Call, Handler
from ..aws.errors import AwsError
from ..aws.shapes import invalid_parameter
from .context import Context
from .errors import Fault

PART_SIZE = 10 << 20
PRESIGN_SECONDS = 3600


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _digest(member: str, text: str) -> Digest:
    try:
        return Digest.parse(text)
    except DigestError as exc:
        raise invalid_parameter(member, str(exc)) from None


def operations(context: Context) -> dict[str, Handler]:
    services = context.services
    uploads = services.uploads
    run = context.services.threads.run

    def identity(name: str, upload_id: str) -> dict[str, str]:
        return {"registryId": context.registry_id, "repositoryName": name, "uploadId": upload_id}

    async def batch_check_layer_availability(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        await run(services.repositories.get, name)
        layers, failures = [], []
        for text in call.params["layerDigests"]:
            if not text:
                failures.append({"layerDigest": text, "failureCode": "MissingLayerDigest", "failureReason": "empty"})
                continue
            try:
                digest = Digest.parse(text)
            except DigestError as exc:
                failures.append({"layerDigest": text, "failureCode": "InvalidLayerDigest", "failureReason": str(exc)})
                continue
            try:
                found = await run(services.blobs.hold, name, digest)
            except BlobUnknown:
                layers.append({"layerDigest": text, "layerAvailability": "UNAVAILABLE"})
                continue
            layers.append({"layerDigest": text, "layerAvailability": "AVAILABLE", "layerSize": found.size})
        return {"layers": layers, "failures": failures}

    async def initiate_layer_upload(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        await run(services.repositories.get, name)
        row = await run(uploads.begin, name)
        return {"uploadId": row.id, "partSize": PART_SIZE}

    async def upload_layer_part(call: Call) -> dict[str, Any]:
        name, upload_id = context.repository(call), call.params["uploadId"]
        first, last, data = call.params["partFirstByte"], call.params["partLastByte"], call.params["layerPartBlob"]
        if last - first + 1 != len(data):
            raise AwsError(
                Fault.INVALID_LAYER_PART,
                f"the part holds {len(data)} bytes but partFirstByte..partLastByte spans {last - first + 1}",
                **identity(name, upload_id),
            )
        try:
            offset = await uploads.append(name, upload_id, _once(data), first, len(data))
        except UploadOutOfOrder as exc:
            raise AwsError(
                Fault.INVALID_LAYER_PART,
                f"partFirstByte {first} is not where the upload ends ({exc.offset})",
                lastValidByteReceived=exc.offset - 1,
                **identity(name, upload_id),
            ) from None
        return identity(name, upload_id) | {"lastByteReceived": offset - 1}

    async def complete_layer_upload(call: Call) -> dict[str, Any]:
        name, upload_id = context.repository(call), call.params["uploadId"]
        if len(call.params["layerDigests"]) != 1:
            raise invalid_parameter("layerDigests", "exactly one layer digest is supported")
        digest = _digest("layerDigests", call.params["layerDigests"][0])
        session = await run(uploads.status, name, upload_id)
        if session.offset == 0:
            raise AwsError(Fault.EMPTY_UPLOAD, f"upload {upload_id} has no layer parts")
        try:
            await run(services.blobs.locate, name, digest)
        except BlobUnknown:
            pass
        else:
            await run(uploads.cancel, name, upload_id)
            raise AwsError(Fault.LAYER_ALREADY_EXISTS, f"layer {digest} already exists in repository {name}")
        try:
            await uploads.complete(name, upload_id, digest, _once(b""), None, 0)
        except DigestMismatch:
            raise AwsError(Fault.INVALID_LAYER, f"the uploaded layer does not match digest {digest}") from None
        return identity(name, upload_id) | {"layerDigest": str(digest)}

    async def get_download_url_for_layer(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        digest = _digest("layerDigest", call.params["layerDigest"])
        await run(services.repositories.get, name)
        try:
            blob = await run(services.blobs.locate, name, digest)
        except BlobUnknown:
            raise AwsError(Fault.LAYERS_NOT_FOUND, f"The layer {digest} does not exist in repository {name}") from None
        url = await run(services.driver.presigned_url, blob.key, PRESIGN_SECONDS)
        if url is None:
            url = f"{call.request.url.scheme}://{context.host(call.request)}{blob_url(name, digest)}"
        return {"downloadUrl": url, "layerDigest": str(digest)}

    return {
        "BatchCheckLayerAvailability": batch_check_layer_availability,
        "InitiateLayerUpload": initiate_layer_upload,
        "UploadLayerPart": upload_layer_part,
        "CompleteLayerUpload": complete_layer_upload,
        "GetDownloadUrlForLayer": get_download_url_for_layer,
    }
