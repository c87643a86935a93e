"""The metadata schema: one definition for SQLite and PostgreSQL (migrations derive from it).

Times are UNIX seconds as floats: the same on both databases and cheap to compare. Names that
are listed in order (repositories, tags) compare bytewise on both: SQLite does by default, and
on PostgreSQL their columns use the "C" collation, whatever the database's locale.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine


def bytewise(length: int) -> TypeEngine[str]:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


NAME = String(255)
DIGEST = String(200)

metadata = MetaData()

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", bytewise(255), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    # Settings (ECR's repository attributes). JSON columns hold the API shapes as given.
    Column("tag_mutability", String(32), nullable=False, server_default="MUTABLE"),
    Column("mutability_exclusions", Text),
    Column("scan_on_push", Boolean, nullable=False, server_default="0"),
    Column("description", Text),
    Column("encryption", Text),
    Column("repository_policy", Text),
    Column("lifecycle_policy", Text),
    Column("lifecycle_evaluated_at", Float),
)

# Resource tags of a repository (TagResource), not image tags.
repository_labels = Table(
    "repository_labels",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", DIGEST, ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", Float, nullable=False),
    Index("ix_repository_blobs_digest", "digest"),
)

# Manifest bytes are immutable and shared by every repository holding the same digest.
manifest_bodies = Table(
    "manifest_bodies",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

manifests = Table(
    "manifests",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", DIGEST, ForeignKey("manifest_bodies.digest"), primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255)),
    Column("subject", DIGEST),
    Column("config_digest", DIGEST),
    Column("size", BigInteger, nullable=False),
    Column("annotations", Text),
    Column("pushed_at", Float, nullable=False),
    Column("pulled_at", Float),
    Index("ix_manifests_subject", "repository_id", "subject"),
)

# What each manifest needs: blobs (config, layers) and child manifests (index entries).
manifest_references = Table(
    "manifest_references",
    metadata,
    Column("repository_id", Integer, primary_key=True),
    Column("digest", DIGEST, primary_key=True),
    Column("child", DIGEST, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Index("ix_manifest_references_child", "repository_id", "child"),
)

tags = Table(
    "tags",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("name", bytewise(128), primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_tags_digest", "repository_id", "digest"),
)

tag_history = Table(
    "tag_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repository_id", Integer, nullable=False),
    Column("tag", String(128), nullable=False),
    Column("digest", DIGEST),
    Column("previous", DIGEST),
    Column("at", Float, nullable=False),
    Column("actor_kind", String(16)),  # who moved the tag (storage/actor.py); NULL: moved before 0010_console
    Column("actor_name", NAME),
    Column("reason", Text),  # why, when it was not a plain push or delete (a revert)
    Index("ix_tag_history_tag", "repository_id", "tag"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("repository", NAME, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("algorithm", String(16), nullable=False),
    Column("hash_state", LargeBinary),
    Column("driver_state", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("lease_token", String(64)),
    Column("lease_expires", Float),
    Index("ix_uploads_updated_at", "updated_at"),
    Column("lease_holder", String(200)),  # storage.holders: which process holds the lease
)

# The transactional outbox: written in the same transaction as the change it announces.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("repository", NAME),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # Who caused it (storage/actor.py) and the request, where there was one.
    Column("actor_kind", String(16), nullable=False, server_default="system"),
    Column("actor_name", NAME, nullable=False, server_default=""),
    Column("request_id", String(64)),
    Column("address", String(64)),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("fanned_at", Float),  # NULL until hooks/fanout.py wrote its deliveries
    Index("ix_events_fanout", "fanned_at", "id"),
    Index("ix_events_created_at", "created_at"),
)

# One row per image a lifecycle policy expired: who (which rule), what and when, kept after the image is gone.
lifecycle_audit = Table(
    "lifecycle_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("repository", NAME, nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("tags", Text, nullable=False),
    Column("rule_priority", Integer),
    Column("reason", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_lifecycle_audit_repository", "repository", "at"),
)

# The last lifecycle policy preview of each repository (ECR keeps one per repository).
lifecycle_previews = Table(
    "lifecycle_previews",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("policy", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("results", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Named leases so that one process at a time runs a scheduled job (lifecycle, garbage collection).
locks = Table(
    "locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires", Float, nullable=False),
)

# -- access control -----------------------------------------------------------------------
# Users and robot accounts share one namespace: both log in with a name and a secret.
principals = Table(
    "principals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # user | robot
    Column("name", NAME, nullable=False, unique=True),
    Column("secret_hash", Text),  # argon2id PHC string; NULL: no password login (AWS-key-only robots)
    Column("description", Text),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("revoked_at", Float),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("principal_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_group_members_principal", "principal_id"),
)

# Subjects are named (anonymous has no row to point at); deleting a principal or group deletes its rules.
permissions = Table(
    "permissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_kind", String(16), nullable=False),  # user | robot | group | anonymous
    Column("subject_name", NAME, nullable=False),  # "" for anonymous
    Column("pattern", NAME, nullable=False),
    Column("actions", String(64), nullable=False),  # sorted, comma-separated
    Column("created_at", Float, nullable=False),
    UniqueConstraint("subject_kind", "subject_name", "pattern", name="uq_permissions_subject_pattern"),
)

# AWS-style key pairs for the ECR-compatible API: SigV4 needs the secret itself, so it is kept
# encrypted with a key that lives outside the database.
access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("principal_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("secret_encrypted", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_access_keys_principal", "principal_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256: the token itself has 256 random bits
    Column("principal_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("service", NAME, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_refresh_tokens_principal", "principal_id"),
)

# Failed logins per counted key (an address and account, an account, an address; see
# storage/login_failures.py), shared by every worker and replica.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("client", String(64), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("failures", Integer, nullable=False),
)

# One row; bumped by every change to principals, groups, permissions or keys, so that each
# worker's caches notice the change on their next use.
auth_generation = Table(
    "auth_generation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

# -- events and webhooks (hooks/) ---------------------------------------------------------------
# Who receives events: webhooks, and the in-process subscribers of hooks/subscribers.py. The
# lease makes one process (of every worker and replica) at a time deliver a subscription's events.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # webhook | internal
    Column("url", Text),
    Column("format", String(32), nullable=False),
    Column("options", Text, nullable=False),  # JSON: timeout, binary, distribution version...
    Column("repositories", Text, nullable=False),  # JSON lists of patterns; [] matches everything
    Column("tags", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("secrets", LargeBinary),  # sealed with the secret box, never in clear
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("since_event", BigInteger, nullable=False),  # events up to this id came before it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("lease_holder", String(64)),
    Column("lease_expires", Float),
)

# One row per (subscription, event): pending until delivered, or dead after the last attempt.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_attempt_at", Float),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),
    Index("ix_deliveries_state", "state", "subscription_id", "id"),
    Index("ix_deliveries_event", "event_id"),
)


# -- deployer (ECS-style control plane) ----------------------------------------------------
# Rows keep the columns the scheduler filters and counts on; the rest of each ECS object is a
# JSON document (`doc`) in the API's own shape, so that a new ECS field needs no migration.
ecs_clusters = Table(
    "ecs_clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # ACTIVE | INACTIVE
    Column("created_at", Float, nullable=False),
    Column("doc", Text, nullable=False),  # settings, configuration
)

ecs_container_instances = Table(
    "ecs_container_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("cluster_id", Integer, ForeignKey("ecs_clusters.id", ondelete="CASCADE"), nullable=False),
    Column("host", NAME, nullable=False),  # the engine's name for the machine
    Column("status", String(16), nullable=False),  # ACTIVE | DRAINING | INACTIVE
    Column("cpu", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_ecs_container_instances_cluster", "cluster_id"),
)

ecs_task_definitions = Table(
    "ecs_task_definitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("family", NAME, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", String(24), nullable=False),  # ACTIVE | INACTIVE | DELETE_IN_PROGRESS
    Column("registered_at", Float, nullable=False),
    Column("deregistered_at", Float),
    Column("doc", Text, nullable=False),  # the TaskDefinition as registered
    UniqueConstraint("family", "revision", name="uq_ecs_task_definitions_family_revision"),
)

ecs_services = Table(
    "ecs_services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_id", Integer, ForeignKey("ecs_clusters.id", ondelete="CASCADE"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE | DRAINING | INACTIVE
    Column("desired_count", Integer, nullable=False),
    Column("task_definition_id", Integer, ForeignKey("ecs_task_definitions.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("steady", Boolean, nullable=False, server_default="0"),  # last reported steady state
    Column("task_restarts", Integer, nullable=False, server_default="0"),
    Column("doc", Text, nullable=False),  # deploymentConfiguration, grace period, load balancer port...
    UniqueConstraint("cluster_id", "name", name="uq_ecs_services_cluster_name"),
)

ecs_deployments = Table(
    "ecs_deployments",
    metadata,
    Column("id", String(64), primary_key=True),  # ecs-svc/<19 digits>
    Column("service_id", Integer, ForeignKey("ecs_services.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # PRIMARY | ACTIVE | INACTIVE
    Column("task_definition_id", Integer, ForeignKey("ecs_task_definitions.id"), nullable=False),
    Column("rollout_state", String(16), nullable=False),  # IN_PROGRESS | COMPLETED | FAILED
    Column("rollout_reason", Text),
    Column("failed_tasks", Integer, nullable=False, server_default="0"),
    Column("rollback_of", String(64)),  # the deployment this one rolls back
    Column("stopped", Boolean, nullable=False, server_default="0"),  # superseded or stopped by a user
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("doc", Text, nullable=False),  # the deploymentConfiguration it runs with
    Index("ix_ecs_deployments_service", "service_id", "status"),
)

ecs_service_events = Table(
    "ecs_service_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, ForeignKey("ecs_services.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_ecs_service_events_service", "service_id", "id"),
)

ecs_tasks = Table(
    "ecs_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("cluster_id", Integer, ForeignKey("ecs_clusters.id", ondelete="CASCADE"), nullable=False),
    Column("service_id", Integer, ForeignKey("ecs_services.id", ondelete="SET NULL")),
    Column("deployment_id", String(64)),
    Column("task_definition_id", Integer, ForeignKey("ecs_task_definitions.id"), nullable=False),
    Column("instance_id", String(36)),
    Column("last_status", String(16), nullable=False),
    Column("desired_status", String(16), nullable=False),
    Column("health_status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("stopped_at", Float),
    Column("cpu", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),  # containers, ports, stop code and reason, overrides...
    Index("ix_ecs_tasks_cluster_status", "cluster_id", "last_status"),
    Index("ix_ecs_tasks_service", "service_id", "last_status"),
)

ecs_log_streams = Table(
    "ecs_log_streams",
    metadata,
    Column("log_group", String(512), primary_key=True),
    Column("stream", String(512), primary_key=True),
    Column("task_id", String(32), nullable=False),
    Column("container", NAME, nullable=False),
    Column("created_at", Float, nullable=False),
)

ecs_resource_tags = Table(
    "ecs_resource_tags",
    metadata,
    Column("arn", String(512), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

# -- vulnerability scanning ---------------------------------------------------------------
# The advisory database, one source per ecosystem family (Debian, Alpine, PyPI, npm, Go...). An
# import loads a new generation of a source beside the current one, then switches the source's
# row to it in one transaction: scans never see half an import.
vulndb_sources = Table(
    "vulndb_sources",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("imported_at", Float, nullable=False),
    Column("origin", Text, nullable=False),  # the files or URLs it came from
    Column("advisories", Integer, nullable=False),
    Column("withdrawn", Integer, nullable=False),  # withdrawn advisories skipped by the import
)

vulndb_advisories = Table(
    "vulndb_advisories",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("aliases", Text, nullable=False),  # JSON list
    Column("severity", String(16), nullable=False),  # ECR's terms (hooks/scan/severity.py)
    Column("score", Float),
    Column("vector", Text),
    Column("cvss_version", String(8)),
    Column("summary", Text),
    Column("uri", Text, nullable=False),
    Column("modified", String(64), nullable=False),
)

# One row per (advisory, affected package): what matching looks up by ecosystem and name.
vulndb_affected = Table(
    "vulndb_affected",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("advisory", String(128), nullable=False),
    Column("ecosystem", String(64), nullable=False),
    Column("package", String(255), nullable=False),
    Column("ranges", Text, nullable=False),  # JSON: ranges and explicit versions
    Index("ix_vulndb_affected_package", "ecosystem", "package", "generation"),
    Index("ix_vulndb_affected_source", "source", "generation"),
)

# What a layer holds that inventories need, by layer digest: read once, shared by every image
# built on the layer, and kept when a scan is interrupted (the next attempt resumes after it).
scan_layers = Table(
    "scan_layers",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("reader", Integer, nullable=False),  # version of the code that made it: older ones are redone
    Column("content", Text, nullable=False),  # JSON
    Column("created_at", Float, nullable=False),
)

# The inventory of each scanned image (an index's lists its platforms' images), by digest.
scan_inventories = Table(
    "scan_inventories",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("reader", Integer, nullable=False),
    Column("content", Text, nullable=False),  # JSON
    Column("created_at", Float, nullable=False),
)

# One row per image of a repository that was asked to be scanned: the scan queue (status
# PENDING, or IN_PROGRESS under a lease) and the last results.
scans = Table(
    "scans",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", DIGEST, primary_key=True),
    Column("status", String(24), nullable=False),
    Column("description", Text),
    Column("reason", String(16), nullable=False),  # push, manual or vulndb
    Column("requested_at", Float, nullable=False),
    Column("started_at", Float),
    Column("completed_at", Float),
    Column("lease_holder", String(64)),
    Column("lease_expires", Float),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("source_updated_at", Float),  # ECR's vulnerabilitySourceUpdatedAt
    Column("counts", Text),  # JSON: findings by severity
    Column("findings", Text),  # JSON list, most severe first
    Index("ix_scans_queue", "status", "requested_at"),
    Index("ix_scans_digest", "digest"),
)

# Registry-wide settings kept as one JSON document each (ECR's registry scanning configuration).
registry_settings = Table(
    "registry_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- sign-in hardening ---------------------------------------------------------------------
# Pairs of client address and account that logged in successfully lately (keys are hashes, as
# in auth_failures): while an address sprays failed logins at many accounts, only the accounts
# known from it may still try (storage/login_failures.py).
auth_known_logins = Table(
    "auth_known_logins",
    metadata,
    Column("pair", String(64), primary_key=True),
    Column("at", Float, nullable=False),
)

# -- web console -----------------------------------------------------------------------------
# Console logins: the cookie holds a random token, the table only its SHA-256 (as refresh tokens).
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("principal_id", Integer, ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_console_sessions_principal", "principal_id"),
)

# The console lists a repository's images newest first and its tag moves newest first, a page at
# a time (keyset pagination): these indexes answer a page without sorting the whole repository.
Index("ix_manifests_pushed", manifests.c.repository_id, manifests.c.pushed_at, manifests.c.digest)
Index("ix_tag_history_repository", tag_history.c.repository_id, tag_history.c.id)

# -- engines that run rollouts themselves (deployer/external.py) -----------------------------
# Each deployment handed to an external engine (Docker Swarm, Amazon ECS), with the engine's
# name for it (its ref): the rollouts it reports back are matched to Cais deployments by ref.
ecs_engine_rollouts = Table(
    "ecs_engine_rollouts",
    metadata,
    Column("deployment_id", String(64), ForeignKey("ecs_deployments.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", Integer, ForeignKey("ecs_services.id", ondelete="CASCADE"), nullable=False),
    Column("ref", String(128), nullable=False),
    Column("handed_at", Float, nullable=False),
    Index("ix_ecs_engine_rollouts_service", "service_id"),
)


# -- push to deploy (hooks/deploy/) -------------------------------------------------------------
# Deploy rules: a push of a matching repository and tag becomes a deployment of a service.
deploy_rules = Table(
    "deploy_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("repository", NAME, nullable=False),  # a pattern (team/*)
    Column("tag", String(128), nullable=False),  # a pattern (main, v*)
    Column("cluster", NAME, nullable=False),
    Column("service", NAME, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: container, scan gate, approval, revertTag
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# One row per push a rule took up: its way through the gates to a deployment, and how that ended.
deploy_runs = Table(
    "deploy_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", NAME, nullable=False),
    Column("event_id", String(64), nullable=False),  # the image.pushed event (a repeat finds its run)
    Column("cluster", NAME, nullable=False),
    Column("service", NAME, nullable=False),
    Column("repository", NAME, nullable=False),
    Column("tag", String(128), nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("state", String(24), nullable=False),
    Column("reason", Text),
    Column("deployment_id", String(64)),  # the ECS deployment it started
    Column("doc", Text, nullable=False),  # JSON: who pushed, scan and gate, revision, rollback
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float),
    UniqueConstraint("rule", "event_id", name="uq_deploy_runs_rule_event"),
    Index("ix_deploy_runs_service", "cluster", "service", "id"),
    Index("ix_deploy_runs_deployment", "deployment_id"),
    Index("ix_deploy_runs_image", "repository", "digest"),
)

# The timeline of a run, as the hook saw it (push, scan, gate, revision, outcome, tag revert).
deploy_steps = Table(
    "deploy_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("deploy_runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("step", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("doc", Text, nullable=False),  # JSON details (counts, digests)
    Index("ix_deploy_steps_run", "run_id", "id"),
)

# The rollout of each ECS deployment, as the deployer's scheduler drove it: task counts at each change.
ecs_deployment_steps = Table(
    "ecs_deployment_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: desired, running, pending, old, failed
    Index("ix_ecs_deployment_steps_deployment", "deployment_id", "id"),
)
