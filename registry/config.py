"""Configuration: one TOML file, every key overridable as CAIS_<SECTION>__<KEY>, validated at
start with one error that lists every problem.

Standard library only: pydantic and pydantic-settings cost every worker process ~10 MiB of RSS
for a dozen flat sections. Each section is a frozen dataclass; a setting's type hint, with its
Rule when it has one, says how a value is read and what it must satisfy."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZES = {"": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}


def parse_seconds(text: str) -> float:
    """A duration such as 90, 90s, 15m, 24h or 7d, in seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError("expected a duration such as 30s, 15m, 24h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _bytes(text: str) -> int:
    """A size such as 4194304, 512k or 4MiB, in bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZES:
        raise ValueError("expected a size such as 4194304, 512KiB or 4MiB")
    return int(match.group(1)) * _SIZES[match.group(2).lower()]


def _hidden(secret: str) -> str:
    return "**********"


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


@dataclass(frozen=True)
class Rule:
    """What a setting must satisfy beyond its type, in `Annotated[type, Rule(...)]`."""

    parse: Callable[[str], Any] | None = None  # text such as "15m" or "4MiB", before the type check
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    pattern: str | None = None  # the whole value must match
    mask: Callable[[str], str] | None = None  # how the value is shown unless secrets are revealed


Seconds = Annotated[float, Rule(parse=parse_seconds, gt=0)]
Delay = Annotated[float, Rule(parse=parse_seconds, ge=0)]
Bytes = Annotated[int, Rule(parse=_bytes, gt=0)]
_ADDRESS = r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}"  # HOST:PORT, [IPv6]:PORT


@dataclass(frozen=True)
class _Section:
    def problems(self) -> list[str]:
        """What is wrong across fields, once each field is valid on its own."""
        return []


@dataclass(frozen=True)
class ServerSettings(_Section):
    listen: Annotated[str, Rule(pattern=_ADDRESS)] = "127.0.0.1:5000"
    workers: Annotated[int, Rule(ge=1, le=64)] = 1
    data_dir: str = "./cais-data"
    insecure_anonymous: bool = False
    # TLS: PEM files (the certificate may be followed by its chain), re-read when they change.
    tls_cert: str | None = None
    tls_key: str | None = None
    # Addresses (comma-separated IPs or CIDRs, or *) whose X-Forwarded-For/-Proto headers are believed.
    trusted_proxies: Annotated[str, Rule(min_length=1)] = "127.0.0.1"
    max_header_bytes: Bytes = 64 << 10  # a larger request head is answered 431
    max_headers: Annotated[int, Rule(ge=1)] = 100

    def problems(self) -> list[str]:
        found = []
        if (self.tls_cert is None) != (self.tls_key is None):
            found.append("tls_cert and tls_key go together")
        port = int(self.listen.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            found.append(f"listen: port {port} is not between 1 and 65535")
        return found


@dataclass(frozen=True)
class StorageSettings(_Section):
    driver: Literal["filesystem", "s3"] = "filesystem"
    root: str | None = None  # filesystem; default: <data_dir>/blobs
    # s3
    bucket: str | None = None
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None  # an S3-compatible server instead of AWS
    public_endpoint_url: str | None = None  # where clients reach it, if not as endpoint_url: presigned URLs use it
    path_style: bool = False
    access_key: str | None = None  # both unset: the standard AWS credential chain
    secret_key: Annotated[str | None, Rule(mask=_hidden)] = field(default=None, repr=False)
    sse: Literal["AES256", "aws:kms"] | None = None
    sse_kms_key_id: str | None = None
    storage_class: str | None = None
    redirect: bool = True  # blob GETs answer 307 to a presigned URL
    max_attempts: Annotated[int, Rule(ge=1, le=20)] = 5
    timeout: Seconds = 60.0

    def problems(self) -> list[str]:
        found = []
        if self.driver == "s3" and not self.bucket:
            found.append('driver "s3" needs a bucket')
        if (self.access_key is None) != (self.secret_key is None):
            found.append("access_key and secret_key go together (or neither, for the AWS credential chain)")
        return found


@dataclass(frozen=True)
class MetadataSettings(_Section):
    # default: sqlite:///<data_dir>/metadata.db; or postgresql://user:pw@host/db
    url: Annotated[str | None, Rule(mask=_without_password)] = None
    migrate_on_start: bool = True  # false: `cais migrate` is a deployment step, serve refuses a stale schema


@dataclass(frozen=True)
class UploadSettings(_Section):
    expire_after: Seconds = 86400.0
    sweep_interval: Seconds = 600.0
    lease: Seconds = 15.0  # a writer on another replica that died blocks its upload this long
    checkpoint_bytes: Bytes = 64 << 20
    checkpoint_interval: Seconds = 5.0


@dataclass(frozen=True)
class ManifestSettings(_Section):
    max_bytes: Bytes = 4 << 20
    require_index_children: bool = True
    require_layers: bool = True  # false accepts sparse image manifests (layers not pushed)
    cache_bytes: Bytes = 64 << 20


@dataclass(frozen=True)
class RepositorySettings(_Section):
    create_on_push: bool = True  # false: pushes to unknown repositories get NAME_UNKNOWN, as on ECR


@dataclass(frozen=True)
class EcrSettings(_Section):
    region: Annotated[str, Rule(pattern=r"[0-9a-z-]{2,25}")] = "us-east-1"
    account_id: Annotated[str, Rule(pattern=r"[0-9]{12}")] = "000000000000"


@dataclass(frozen=True)
class PullSettings(_Section):
    flush_interval: Seconds = 60.0  # last-pulled times are batched in memory and written this often


@dataclass(frozen=True)
class LifecycleSettings(_Section):
    enabled: bool = True
    interval: Seconds = 3600.0  # how often every repository's lifecycle policy is applied


@dataclass(frozen=True)
class GcSettings(_Section):
    enabled: bool = True
    interval: Seconds = 3600.0
    grace: Delay = 3600.0  # a blob link younger than this is a push in progress and keeps its blob


@dataclass(frozen=True)
class AuthSettings(_Section):
    enabled: bool = False
    # The address clients use to reach this registry, e.g. https://registry.example.com; the
    # token endpoint (realm) is <public_url>/token. Unset: taken from each request's Host header.
    public_url: Annotated[str | None, Rule(pattern=r"https?://[^/\s]+")] = None
    service: Annotated[str, Rule(min_length=1)] = "cais"  # the `aud` of issued tokens and `service` of challenges
    issuer: Annotated[str, Rule(min_length=1)] = "cais"  # the `iss` of issued tokens
    token_ttl: Annotated[float, Rule(parse=parse_seconds, ge=60)] = 300.0  # spec: never below 60 s
    refresh_token_ttl: Seconds = 30 * 86400.0
    key_dir: str | None = None  # default: <data_dir>/auth (signing keys, the key that encrypts AWS secrets)
    failure_limit: Annotated[int, Rule(ge=1)] = 10  # failed logins per address and account and window, then 429
    failure_window: Seconds = 300.0
    account_failure_limit: Annotated[int, Rule(ge=1)] = 100  # per account from any address
    spray_failure_limit: Annotated[int, Rule(ge=1)] = 50  # per address across accounts: then only known ones


@dataclass(frozen=True)
class ScanSettings(_Section):
    enabled: bool = True  # false: this process works no scans (requests still queue them for others)
    poll_interval: Seconds = 2.0  # how often an idle worker looks at the scan queue
    lease: Seconds = 60.0  # a scan whose process died is taken up by another after this
    max_layer_bytes: Bytes = 16 << 30  # uncompressed bytes of one layer; beyond: the scan FAILS
    max_layer_entries: Annotated[int, Rule(ge=1)] = 2_000_000
    max_file_bytes: Bytes = 64 << 20  # a package database file read whole
    sbom: bool = True  # store each scanned image's SBOM (CycloneDX) as a referrer


@dataclass(frozen=True)
class UiSettings(_Section):
    enabled: bool = False  # the web console at /ui/ (its modules are loaded only when enabled)
    session_ttl: Annotated[float, Rule(parse=parse_seconds, ge=60)] = 12 * 3600.0  # a console login lasts this long
    page_size: Annotated[int, Rule(ge=5, le=500)] = 50  # rows per page of the console's lists
    live_interval: Annotated[float, Rule(parse=parse_seconds, ge=1)] = 5.0  # how often live regions refresh


@dataclass(frozen=True)
class DeployerSettings(_Section):
    enabled: bool = True  # the scheduler runs in the serving processes (one at a time holds the lease)
    docker_host: str | None = None  # e.g. unix:///run/docker.sock; default: DOCKER_HOST or docker's default
    interval: Seconds = 1.0  # between two reconciliations
    lease: Seconds = 15.0  # a scheduler that died is replaced after this
    drain: Delay = 2.0  # a task leaves its service proxy this long before it is stopped
    ports: Annotated[str, Rule(pattern=r"\d{1,5}-\d{1,5}")] = "20000-29999"  # host ports handed to tasks
    cpu: Annotated[int, Rule(ge=0)] = 0  # CPU units this host registers; 0: 1024 per core
    memory: Annotated[int, Rule(ge=0)] = 0  # MiB this host registers; 0: the machine's memory
    log_bytes: Bytes = 1 << 20  # per container log file (one rotated file is kept beside it)
    stopped_ttl: Seconds = 3600.0  # STOPPED tasks stay visible this long
    registry: str | None = None  # host:port of this registry in image references; default: server.listen
    engine_interval: Seconds = 5.0  # between two looks at each cluster bound to Docker Swarm or Amazon ECS
    rollback_targets: Annotated[int, Rule(ge=0)] = 3  # last COMPLETED deployments per service kept from retention

    def problems(self) -> list[str]:
        low, _, high = self.ports.partition("-")
        if not 1024 <= int(low) <= int(high) <= 65535:
            return ["ports must be a range LOW-HIGH within 1024-65535"]
        return []


@dataclass(frozen=True)
class EventSettings(_Section):
    """Events and webhooks (hooks/)."""

    retention: Seconds = 7 * 86400.0  # events older than this are pruned, with their deliveries
    prune_interval: Seconds = 3600.0
    poll_interval: Seconds = 1.0  # how often each process looks for events to fan out and deliver
    max_attempts: Annotated[int, Rule(ge=1, le=100)] = 20  # then a delivery is dead-lettered
    retry_base: Seconds = 10.0  # the first retry waits about this long; each next one twice as long
    retry_max: Seconds = 10800.0  # ... up to this
    timeout: Annotated[float, Rule(parse=parse_seconds, gt=0, le=300)] = 10.0  # a webhook's, unless set
    concurrency: Annotated[int, Rule(ge=1, le=256)] = 8  # subscriptions one process delivers at once
    allow_link_local: bool = False  # true: webhooks may go to 169.254.0.0/16 and fe80::/10
    blob_uploads: bool = False  # write a blob.uploaded event for every blob pushed (many)


@dataclass(frozen=True)
class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    access: bool = True


@dataclass(frozen=True)
class MetricsSettings(_Section):
    # Serve /metrics only on this address (another port), not on [server] listen.
    listen: Annotated[str | None, Rule(pattern=_ADDRESS)] = None
    # Require `Authorization: Bearer <token>` on /metrics.
    token: Annotated[str | None, Rule(min_length=16, mask=_hidden)] = field(default=None, repr=False)

    @property
    def host(self) -> str | None:
        return None if self.listen is None else self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int | None:
        return None if self.listen is None else int(self.listen.rsplit(":", 1)[1])

    def problems(self) -> list[str]:
        if self.port is not None and not 1 <= self.port <= 65535:
            return [f"listen: port {self.port} is not between 1 and 65535"]
        return []


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    metadata: MetadataSettings = field(default_factory=MetadataSettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)
    manifests: ManifestSettings = field(default_factory=ManifestSettings)
    repositories: RepositorySettings = field(default_factory=RepositorySettings)
    ecr: EcrSettings = field(default_factory=EcrSettings)
    pulls: PullSettings = field(default_factory=PullSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    gc: GcSettings = field(default_factory=GcSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    scan: ScanSettings = field(default_factory=ScanSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    deployer: DeployerSettings = field(default_factory=DeployerSettings)
    log: LogSettings = field(default_factory=LogSettings)
    events: EventSettings = field(default_factory=EventSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Settings from what `to_dict(reveal_secrets=True)` gave, validated again."""
        return _settings([json.loads(text)])

    def to_dict(self, reveal_secrets: bool = False) -> dict[str, dict[str, Any]]:
        """The settings as JSON-ready data. Secrets are masked when settings are shown, and revealed
        only when `cais serve` hands the resolved settings to its workers."""
        data = dataclasses.asdict(self)
        for name, values in data.items():
            for key, (_, rule) in _fields(type(getattr(self, name))).items():
                if rule.mask and values[key] is not None and not reveal_secrets:
                    values[key] = rule.mask(values[key])
        return data

    # -- derived ----------------------------------------------------------------------------
    @property
    def data_dir(self) -> str:
        return os.path.abspath(self.server.data_dir)

    @property
    def blob_root(self) -> str:
        return os.path.abspath(self.storage.root or os.path.join(self.data_dir, "blobs"))

    @property
    def metadata_url(self) -> str:
        return self.metadata.url or f"sqlite:///{os.path.join(self.data_dir, 'metadata.db')}"

    @property
    def auth_key_dir(self) -> str:
        return os.path.abspath(self.auth.key_dir or os.path.join(self.data_dir, "auth"))

    @property
    def listen_host(self) -> str:
        return self.server.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.server.listen.rsplit(":", 1)[1])


class ConfigError(Exception):
    """Every problem found in the configuration, one per line."""


def load(config_file: str | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
    """Defaults < TOML file < CAIS_* environment < command-line overrides."""
    return _settings([_file(config_file) if config_file else {}, _environment(os.environ), overrides or {}])


# -- reading and validating --------------------------------------------------------------------


def _file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def _environment(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The CAIS_<SECTION>__<KEY> variables, names case-insensitive (as pydantic-settings read them)."""
    layer: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        lowered = name.lower()
        if lowered.startswith("cais_") and "__" in lowered:
            section, _, key = lowered.removeprefix("cais_").partition("__")
            layer.setdefault(section, {})[key] = value
    return layer


def _settings(layers: list[Mapping[str, Any]]) -> Settings:
    """Settings from layers of {section: {key: value}}, later layers winning key by key."""
    sections: dict[str, type[_Section]] = get_type_hints(Settings)
    problems: list[str] = []
    merged: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for layer in layers:
        for name, values in layer.items():
            if name not in sections:
                problems.append(f"  {name}: unknown section")
            elif not isinstance(values, Mapping):
                problems.append(f"  {name}: expected a table of settings")
            else:
                merged[name].update(values)
    built: dict[str, Any] = {name: _section(kind, merged[name], name, problems) for name, kind in sections.items()}
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
    return Settings(**built)


def _section(kind: type[_Section], values: Mapping[str, Any], name: str, problems: list[str]) -> _Section | None:
    """One section from `values` (other keys keep their defaults); what is wrong goes to `problems`."""
    fields = _fields(kind)
    given: dict[str, Any] = {}
    for key, value in values.items():
        try:
            if key not in fields:
                raise ValueError("unknown setting")
            given[key] = _read(*fields[key], value)
        except ValueError as exc:
            problems.append(f"  {name}.{key}: {exc}")
    if len(given) < len(values):
        return None
    section = kind(**given)
    problems.extend(f"  {name}: {problem}" for problem in section.problems())
    return section


def _fields(kind: type[_Section]) -> dict[str, tuple[Any, Rule]]:
    """Each setting of a section: its type and its rule (an empty one when it has none)."""
    fields = {}
    for key, hint in get_type_hints(kind, include_extras=True).items():
        fields[key] = (get_args(hint)[0], get_args(hint)[1]) if get_origin(hint) is Annotated else (hint, Rule())
    return fields


def _read(kind: Any, rule: Rule, value: Any) -> Any:
    """`value`, as found in TOML, JSON, the environment or a flag, checked and converted to `kind`."""
    if rule.parse and isinstance(value, str):
        value = rule.parse(value)
    value = _convert(kind, value)
    if value is None:
        return value
    if rule.gt is not None and not value > rule.gt:
        raise ValueError(f"must be greater than {rule.gt:g}")
    if rule.ge is not None and not value >= rule.ge:
        raise ValueError(f"must be at least {rule.ge:g}")
    if rule.le is not None and not value <= rule.le:
        raise ValueError(f"must be at most {rule.le:g}")
    if rule.min_length is not None and len(value) < rule.min_length:
        raise ValueError(f"must have at least {rule.min_length} character(s)")
    if rule.pattern is not None and not re.fullmatch(rule.pattern, value):
        raise ValueError(f"must match {rule.pattern}")
    return value


def _convert(kind: Any, value: Any) -> Any:
    if get_origin(kind) in (Union, types.UnionType):  # `X | None`
        return None if value is None else _convert(next(arg for arg in get_args(kind) if arg is not type(None)), value)
    if get_origin(kind) is Literal:
        if value not in get_args(kind):
            raise ValueError("must be one of " + ", ".join(repr(choice) for choice in get_args(kind)))
        return value
    return _SCALARS[kind](value)


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _bool(value: object) -> bool:
    text = str(value).lower()  # True, 1, "true", "Yes", "on"...
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("expected true or false")


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError("expected an integer")


def _float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    raise ValueError("expected a number")


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _bool, int: _int, float: _float, str: _str}
