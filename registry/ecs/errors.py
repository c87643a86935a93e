"""The ECS API's errors, and how the deployer's errors (deployer/errors.py) map to them."""

from __future__ import annotations

import logging

from deployer import errors as deploy
from storage.drivers.base import StorageUnavailable

from ..aws.errors import AwsError, Common, Row

log = logging.getLogger("cais.ecs")


class Fault(Common):
    CLIENT = Row("ClientException", 400, "client error")
    CLUSTER_NOT_FOUND = Row("ClusterNotFoundException", 400, "Cluster not found.")
    SERVICE_NOT_FOUND = Row("ServiceNotFoundException", 400, "Service not found.")
    SERVICE_NOT_ACTIVE = Row("ServiceNotActiveException", 400, "Service was not ACTIVE.")
    CLUSTER_CONTAINS_SERVICES = Row("ClusterContainsServicesException", 400, "the cluster has active services")
    CLUSTER_CONTAINS_TASKS = Row("ClusterContainsTasksException", 400, "the cluster has active tasks")
    CLUSTER_CONTAINS_INSTANCES = Row(
        "ClusterContainsContainerInstancesException", 400, "the cluster has registered container instances"
    )
    DEPLOYMENT_NOT_FOUND = Row("ServiceDeploymentNotFoundException", 400, "service deployment not found")
    RESOURCE_NOT_FOUND = Row("ResourceNotFoundException", 400, "The specified resource could not be found.")
    SERVER = Row("ServerException", 500, "internal server error")


_DEPLOY_FAULTS: dict[type[deploy.DeployError], Row] = {
    deploy.InvalidParameter: Fault.INVALID_PARAMETER,
    deploy.ClientError: Fault.CLIENT,
    deploy.ClusterNotFound: Fault.CLUSTER_NOT_FOUND,
    deploy.ServiceNotFound: Fault.SERVICE_NOT_FOUND,
    deploy.ServiceNotActive: Fault.SERVICE_NOT_ACTIVE,
    deploy.DeploymentNotFound: Fault.DEPLOYMENT_NOT_FOUND,
    deploy.ResourceNotFound: Fault.RESOURCE_NOT_FOUND,
}
_NOT_EMPTY = {
    "services": Fault.CLUSTER_CONTAINS_SERVICES,
    "tasks": Fault.CLUSTER_CONTAINS_TASKS,
    "instances": Fault.CLUSTER_CONTAINS_INSTANCES,
}


def as_aws_error(exc: Exception) -> AwsError:
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, deploy.ClusterNotEmpty):
        return AwsError(_NOT_EMPTY[exc.what], exc.message)
    if isinstance(exc, deploy.DeployError):
        return AwsError(_DEPLOY_FAULTS[type(exc)], exc.message)
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return AwsError(Fault.SERVER, "storage is unavailable, retry later")
    log.exception("unhandled error in the ECS API", exc_info=exc)
    return AwsError(Fault.SERVER)
