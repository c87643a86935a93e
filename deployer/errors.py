"""What the deployer refuses, as data: each class is one ECS error (registry/ecs/errors.py maps
them to AWS's JSON shape; the CLI prints the message)."""

from __future__ import annotations


class DeployError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(DeployError):
    pass


class ClientError(DeployError):
    """ECS's ClientException: the request names something that cannot be used this way."""


class ClusterNotFound(DeployError):
    def __init__(self, message: str = "Cluster not found.") -> None:
        super().__init__(message)


class ServiceNotFound(DeployError):
    def __init__(self, message: str = "Service not found.") -> None:
        super().__init__(message)


class ServiceNotActive(DeployError):
    def __init__(self, message: str = "Service was not ACTIVE.") -> None:
        super().__init__(message)


class ClusterNotEmpty(DeployError):
    """DeleteCluster of a cluster that still has services, tasks or instances; `what` says which."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what  # services | tasks | instances


class DeploymentNotFound(DeployError):
    pass


class ResourceNotFound(DeployError):
    pass
