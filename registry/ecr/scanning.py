"""Image scanning: StartImageScan, DescribeImageScanFindings, Put/GetRegistryScanningConfiguration
and BatchGetRepositoryScanningConfiguration, in ECR's shapes.

Findings come in both of ECR's forms: `findings` (basic scanning: name, uri, severity and
package attributes) and `enhancedFindings` (with the vulnerable package's fixed version,
package manager, file path and the layer that introduced it), paged together.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hooks.scan import policy, results
from hooks.scan.trigger import MANUAL, request_scan
from storage.metadata import scans
from storage.metadata.images import ImageRow
from storage.metadata.scans import ScanRow

from ..aws import pages
from ..aws.call import Call, Handler
from ..aws.errors import AwsError
from . import access, images, present
from .context import Context
from .errors import Fault

PAGE = 100


def _attributes(finding: dict[str, Any]) -> list[dict[str, str]]:
    attributes = {"package_version": finding["version"], "package_name": finding["package"]}
    version = (finding.get("cvssVersion") or "").split(".")[0]
    if finding.get("vector") and version:
        attributes[f"CVSS{version}_VECTOR"] = finding["vector"]
        attributes[f"CVSS{version}_SCORE"] = str(finding["score"])
    if finding.get("platform"):
        attributes["platform"] = finding["platform"]
    return [{"key": key, "value": value[:256]} for key, value in attributes.items()]


def basic(finding: dict[str, Any]) -> dict[str, Any]:
    shape = {"name": finding["name"], "uri": finding["uri"], "severity": finding["severity"]}
    if finding.get("description"):
        shape["description"] = finding["description"]
    return shape | {"attributes": _attributes(finding)}


def _vulnerable_package(finding: dict[str, Any]) -> dict[str, Any]:
    package = {
        "name": finding["package"],
        "version": finding["version"],
        "packageManager": finding["manager"],
        "filePath": finding["path"],
    }
    optional = {
        "fixedInVersion": finding.get("fixedIn"),
        "sourceLayerHash": finding.get("layer"),
        "arch": finding.get("arch"),
    }
    return package | {key: value for key, value in optional.items() if value}


class _Enhanced:
    """EnhancedImageScanFinding shapes for one image of one repository."""

    def __init__(self, context: Context, call: Call, name: str, image: ImageRow, scan: ScanRow) -> None:
        self.context, self.name, self.image, self.scan = context, name, image, scan
        self.region = context.region(call.principal)
        registry = context.registry_id
        self.resource = {
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "id": f"{context.arn(call, name)}/{image.digest}",
            "details": {
                "awsEcrContainerImage": {
                    "registry": registry,
                    "repositoryName": name,
                    "imageHash": image.digest,
                    "imageTags": list(image.tags),
                    "pushedAt": image.pushed_at,
                }
            },
        }

    def shape(self, finding: dict[str, Any]) -> dict[str, Any]:
        key = f"{self.image.digest}/{finding['id']}/{finding['package']}/{finding['path']}"
        finding_id = hashlib.sha256(key.encode()).hexdigest()[:32]
        arn = f"arn:aws:ecr:{self.region}:{self.context.registry_id}:finding/{finding_id}"
        details: dict[str, Any] = {
            "vulnerabilityId": finding["name"],
            "source": "OSV",
            "sourceUrl": finding["uri"],
            "referenceUrls": [finding["uri"]],
            "relatedVulnerabilities": [
                alias for alias in [finding["id"], *finding["aliases"]] if alias != finding["name"]
            ],
            "vendorSeverity": finding["severity"],
            "vulnerablePackages": [_vulnerable_package(finding)],
        }
        shape: dict[str, Any] = {
            "awsAccountId": self.context.registry_id,
            "findingArn": arn,
            "firstObservedAt": finding.get("firstObservedAt") or self.scan.completed_at,
            "lastObservedAt": self.scan.completed_at,
            "updatedAt": self.scan.completed_at,
            "packageVulnerabilityDetails": details,
            "remediation": {"recommendation": {"text": _recommendation(finding)}},
            "resources": [self.resource],
            "severity": finding["severity"] if finding["severity"] != "UNDEFINED" else "UNTRIAGED",
            "status": "ACTIVE",
            "title": f"{finding['name']} - {finding['package']}",
            "type": "PACKAGE_VULNERABILITY",
            "fixAvailable": "YES" if finding.get("fixedIn") else "NO",
        }
        if finding.get("description"):
            shape["description"] = finding["description"]
        if finding.get("score") is not None:
            version = finding.get("cvssVersion") or ""
            details["cvss"] = [
                {"baseScore": finding["score"], "scoringVector": finding["vector"], "source": "OSV", "version": version}
            ]
            shape["score"] = finding["score"]
            cvss = {
                "score": finding["score"],
                "scoringVector": finding["vector"],
                "scoreSource": "OSV",
                "version": version,
            }
            shape["scoreDetails"] = {"cvss": cvss | {"adjustments": []}}
        return shape


def _recommendation(finding: dict[str, Any]) -> str:
    if finding.get("fixedIn"):
        return f"Upgrade {finding['package']} to version {finding['fixedIn']} or later."
    return "None Provided"


def operations(context: Context) -> dict[str, Handler]:
    services = context.services
    db = services.db
    run = services.threads.run

    def image_identity(name: str, image: ImageRow, image_id: dict[str, str]) -> dict[str, Any]:
        shown = {"imageDigest": image.digest} | ({"imageTag": image_id["imageTag"]} if "imageTag" in image_id else {})
        return {"registryId": context.registry_id, "repositoryName": name, "imageId": shown}

    async def start_image_scan(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        image = await images.one_image(context, name, call.params["imageId"])
        if not await run(services.scans.scanner.images, name, image.digest):
            raise AwsError(
                Fault.UNSUPPORTED_IMAGE_TYPE, "The operating system and/or package manager are not supported."
            )
        row = await run(request_scan, db, name, image.digest, MANUAL)
        services.scans.wake()
        return image_identity(name, image, call.params["imageId"]) | {"imageScanStatus": present.scan_status(row)}

    async def describe_image_scan_findings(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        image_id = call.params["imageId"]
        image = await images.one_image(context, name, image_id)
        scan = await run(results.scan_of, db, name, image.digest)
        if scan is None:
            raise AwsError(
                Fault.SCAN_NOT_FOUND,
                f"Image scan does not exist for the image with '{images.show(image_id)}' in the repository with name "
                f"'{name}' in the registry with id '{context.registry_id}'",
            )
        result = image_identity(name, image, image_id) | {"imageScanStatus": present.scan_status(scan)}
        if scan.status != scans.COMPLETE:
            return result
        limit = pages.limit(call.params, PAGE)
        (start,) = pages.position(call.params, ["0"])
        offset = int(start) if start.isdigit() else 0
        every = scan.findings or []
        page = every[offset : offset + limit]
        enhanced = _Enhanced(context, call, name, image, scan)
        result["imageScanFindings"] = present.findings_summary(scan) | {
            "findings": [basic(f) for f in page],
            "enhancedFindings": [enhanced.shape(f) for f in page],
        }
        if offset + limit < len(every):
            result["nextToken"] = pages.token([str(offset + limit)])
        return result

    async def put_registry_scanning_configuration(call: Call) -> dict[str, Any]:
        access.require(call.principal, "*", "ecr:PutRegistryScanningConfiguration", "admin")
        configuration = {"scanType": call.params.get("scanType", "BASIC"), "rules": call.params.get("rules", [])}
        await run(policy.put_registry_configuration, db, configuration)
        return {"registryScanningConfiguration": configuration}

    async def get_registry_scanning_configuration(call: Call) -> dict[str, Any]:
        configuration = await run(policy.registry_configuration, db)
        return {"registryId": context.registry_id, "scanningConfiguration": configuration}

    async def batch_get_repository_scanning_configuration(call: Call) -> dict[str, Any]:
        names = call.params["repositoryNames"]
        for name in names:
            access.require(call.principal, name, "ecr:BatchGetRepositoryScanningConfiguration", "pull")
        configuration = await run(policy.registry_configuration, db)
        found = {repo.name: repo for repo in await run(services.repositories.page, "", len(names), names)}
        configurations, failures = [], []
        for name in names:
            if name not in found:
                reason = "REPOSITORY_NOT_FOUND"
                failures.append(
                    {"repositoryName": name, "failureCode": reason, "failureReason": "Repository not found"}
                )
                continue
            rule = policy.effective(configuration, name, found[name].settings.scan_on_push)
            configurations.append(
                {
                    "repositoryArn": context.arn(call, name),
                    "repositoryName": name,
                    "scanOnPush": rule.scan_on_push,
                    "scanFrequency": rule.frequency,
                    "appliedScanFilters": rule.filters,
                }
            )
        return {"scanningConfigurations": configurations, "failures": failures}

    return {
        "StartImageScan": start_image_scan,
        "DescribeImageScanFindings": describe_image_scan_findings,
        "PutRegistryScanningConfiguration": put_registry_scanning_configuration,
        "GetRegistryScanningConfiguration": get_registry_scanning_configuration,
        "BatchGetRepositoryScanningConfiguration": batch_get_repository_scanning_configuration,
    }
