"""What every ECR operation needs: the stores, the registry's identity (account id from the
[ecr] settings; the region the client signed for, [ecr] region for unsigned calls) and the call
being served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..aws.call import Call
from ..aws.errors import AwsError, Row
from ..aws.shapes import invalid_parameter
from ..aws.signing import Principal
from ..services import Services
from .errors import Fault


@dataclass(frozen=True, slots=True)
class Context:
    services: Services

    @property
    def registry_id(self) -> str:
        return self.services.settings.ecr.account_id

    def region(self, principal: Principal) -> str:
        """The region of the call: one registry answers as ECR would in whichever region a client
        uses, so ARNs carry the region of the signature (AWS SDKs sign for their configured region)."""
        return principal.region or self.services.settings.ecr.region

    def arn(self, call: Call, repository: str) -> str:
        return f"arn:aws:ecr:{self.region(call.principal)}:{self.registry_id}:repository/{repository}"

    def repository_of_arn(self, arn: str, principal: Principal) -> str:
        prefix = f"arn:aws:ecr:{self.region(principal)}:{self.registry_id}:repository/"
        if not arn.startswith(prefix) or len(arn) == len(prefix):
            raise invalid_parameter("resourceArn", "Invalid parameter at 'resourceArn': not a repository ARN")
        return arn[len(prefix) :]

    def resource(self, call: Call) -> str:
        """The repository named by the call's resourceArn."""
        return self.repository_of_arn(call.params["resourceArn"], call.principal)

    def target(self, params: dict[str, Any], principal: Principal) -> str | None:
        """The repository a call acts on, for authorization (None: the registry itself)."""
        if "repositoryName" in params:
            return str(params["repositoryName"])
        arn = params.get("resourceArn")
        return self.repository_of_arn(arn, principal) if arn is not None else None

    @staticmethod
    def host(request: Request) -> str:
        return request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"

    def repository_uri(self, request: Request, repository: str) -> str:
        return f"{self.host(request)}/{repository}"

    def repository(self, call: Call) -> str:
        """The repositoryName of the call, in this registry (a foreign registryId has none)."""
        name: str = call.params["repositoryName"]
        registry = call.params.get("registryId", self.registry_id)
        if registry != self.registry_id:
            raise self.not_found(name, registry)
        return name

    def absent(self, fault: Row, what: str, repository: str) -> AwsError:
        """ECR's wording for a policy or preview the repository does not have."""
        message = (
            f"{what} does not exist for the repository with name '{repository}' "
            f"in the registry with id '{self.registry_id}'"
        )
        return AwsError(fault, message)

    def not_found(self, repository: str, registry: str | None = None) -> AwsError:
        return AwsError(
            Fault.REPOSITORY_NOT_FOUND,
            f"The repository with name '{repository}' does not exist in the registry with id "
            f"'{registry or self.registry_id}'",
        )
