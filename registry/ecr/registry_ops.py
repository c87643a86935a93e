"""Registry-wide operations and repository policies: DescribeRegistry, GetAuthorizationToken,
Set/Get/DeleteRepositoryPolicy."""

from __future__ import annotations

import base64
from typing import Any

from storage import policy_document
from storage.errors import PolicyNotFound, SettingInvalid

from ..aws.call import Call, Handler
from ..aws.errors import AwsError
from ..aws.shapes import invalid_parameter
from . import access
from .context import Context
from .errors import Fault

KIND = "repository_policy"


def operations(context: Context) -> dict[str, Handler]:
    store = context.services.repositories
    run = context.services.threads.run

    def policy_result(name: str, text: str) -> dict[str, Any]:
        return {"registryId": context.registry_id, "repositoryName": name, "policyText": text}

    def no_policy(name: str) -> AwsError:
        return context.absent(Fault.REPOSITORY_POLICY_NOT_FOUND, "Repository policy", name)

    async def describe_registry(call: Call) -> dict[str, Any]:
        return {"registryId": context.registry_id, "replicationConfiguration": {"rules": []}}

    async def get_authorization_token(call: Call) -> dict[str, Any]:
        token, expires = access.registry_token(call.principal, context.services.authority)
        scheme = call.request.url.scheme
        data = {
            "authorizationToken": base64.b64encode(f"AWS:{token}".encode()).decode(),
            "expiresAt": expires,
            "proxyEndpoint": f"{scheme}://{context.host(call.request)}",
        }
        return {"authorizationData": [data for _ in call.params.get("registryIds", [context.registry_id])]}

    async def set_repository_policy(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        text = call.params["policyText"]
        try:
            policy_document.check(text)
        except SettingInvalid as exc:
            raise invalid_parameter("PolicyText", f"Invalid repository policy provided: {exc.message}") from None
        await run(store.set_policy, name, KIND, text)
        return policy_result(name, text)

    async def get_repository_policy(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        try:
            return policy_result(name, await run(store.policy, name, KIND))
        except PolicyNotFound:
            raise no_policy(name) from None

    async def delete_repository_policy(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        try:
            previous = await run(store.delete_policy, name, KIND)
        except PolicyNotFound:
            raise no_policy(name) from None
        return policy_result(name, previous.repository_policy or "")

    return {
        "DescribeRegistry": describe_registry,
        "GetAuthorizationToken": get_authorization_token,
        "SetRepositoryPolicy": set_repository_policy,
        "GetRepositoryPolicy": get_repository_policy,
        "DeleteRepositoryPolicy": delete_repository_policy,
    }
