"""The bundled deployer: an ECS-style control plane (clusters, task definitions, services,
rolling deployments with a circuit breaker) that runs real containers through an engine.

Layers: `planner` and `placement` are pure functions; `state` records everything in the
metadata store (SQL in storage/metadata/ecs_*.py); `reconciler` applies the planner's actions
through an `Engine`; `scheduler` runs the reconciler in one process at a time (a database
lease), with the service proxies, log collection and stats. Clusters bound to an engine that
runs rollouts itself (`bindings`: Docker Swarm in `swarm_engine`, Amazon ECS in `ecs_engine`,
behind `external`) are handed over by `handover`, followed by `following` and recorded by
`mirror`. The ECS API lives in registry/ecs.
"""
