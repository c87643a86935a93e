"""Configuration: one TOML file, every key overridable as CAIS_<SECTION>__<KEY>, validated at
start with one error that lists every problem."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    ValidationError,
    field_serializer,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZES = {"": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}


def _seconds(value: Any) -> Any:
    """Accept 90, "90", "90s", "15m", "24h", "7d"."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if not match:
            raise ValueError("expected a duration such as 30s, 15m, 24h or 7d")
        return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    return value


def _bytes(value: Any) -> Any:
    """Accept 4194304, "4MiB", "512k"."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
        if not match or match.group(2).lower() not in _SIZES:
            raise ValueError("expected a size such as 4194304, 512KiB or 4MiB")
        return int(match.group(1)) * _SIZES[match.group(2).lower()]
    return value


def parse_seconds(text: str) -> float:
    """A duration such as 90s, 15m, 24h or 90d, in seconds."""
    return float(_seconds(text))


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
Delay = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
Bytes = Annotated[int, BeforeValidator(_bytes), Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    listen: str = Field("127.0.0.1:5000", pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$")
    workers: int = Field(1, ge=1, le=64)
    data_dir: str = "./cais-data"
    insecure_anonymous: bool = False


def _reveal(info: SerializationInfo) -> bool:
    """Secrets are masked when settings are shown, and kept only when `cais serve` hands the
    resolved settings to its workers."""
    return bool((info.context or {}).get("reveal_secrets"))


class StorageSettings(_Section):
    driver: Literal["filesystem", "s3"] = "filesystem"
    root: str | None = None  # filesystem; default: <data_dir>/blobs
    # s3
    bucket: str | None = None
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None  # an S3-compatible server instead of AWS
    path_style: bool = False
    access_key: str | None = None  # both unset: the standard AWS credential chain
    secret_key: SecretStr | None = None
    sse: Literal["AES256", "aws:kms"] | None = None
    sse_kms_key_id: str | None = None
    storage_class: str | None = None
    redirect: bool = True  # blob GETs answer 307 to a presigned URL
    max_attempts: int = Field(5, ge=1, le=20)
    timeout: Seconds = 60.0

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> StorageSettings:
        if self.driver == "s3" and not self.bucket:
            raise ValueError('driver "s3" needs a bucket')
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("access_key and secret_key go together (or neither, for the AWS credential chain)")
        return self

    @field_serializer("secret_key", when_used="json")
    def _secret(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        if value is None:
            return None
        return value.get_secret_value() if _reveal(info) else str(value)


class MetadataSettings(_Section):
    url: str | None = None  # default: sqlite:///<data_dir>/metadata.db; or postgresql://user:pw@host/db
    migrate_on_start: bool = True  # false: `cais migrate` is a deployment step, serve refuses a stale schema

    @field_serializer("url", when_used="json")
    def _url(self, value: str | None, info: SerializationInfo) -> str | None:
        if value is None or _reveal(info):
            return value
        return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", value)


class UploadSettings(_Section):
    expire_after: Seconds = 86400.0
    sweep_interval: Seconds = 600.0
    lease: Seconds = 60.0
    checkpoint_bytes: Bytes = 64 << 20
    checkpoint_interval: Seconds = 5.0


class ManifestSettings(_Section):
    max_bytes: Bytes = 4 << 20
    require_index_children: bool = True
    cache_bytes: Bytes = 64 << 20


class RepositorySettings(_Section):
    create_on_push: bool = True  # false: pushes to unknown repositories get NAME_UNKNOWN, as on ECR


class EcrSettings(_Section):
    region: str = Field("us-east-1", pattern=r"^[0-9a-z-]{2,25}$")
    account_id: str = Field("000000000000", pattern=r"^[0-9]{12}$")


class PullSettings(_Section):
    flush_interval: Seconds = 60.0  # last-pulled times are batched in memory and written this often


class LifecycleSettings(_Section):
    enabled: bool = True
    interval: Seconds = 3600.0  # how often every repository's lifecycle policy is applied


class GcSettings(_Section):
    enabled: bool = True
    interval: Seconds = 3600.0
    grace: Delay = 3600.0  # a blob link younger than this is a push in progress and keeps its blob


class AuthSettings(_Section):
    enabled: bool = False
    # The address clients use to reach this registry, e.g. https://registry.example.com; the
    # token endpoint (realm) is <public_url>/token. Unset: taken from each request's Host header.
    public_url: str | None = Field(None, pattern=r"^https?://[^/\s]+$")
    service: str = Field("cais", min_length=1)  # the `aud` of issued tokens and `service` of challenges
    issuer: str = Field("cais", min_length=1)  # the `iss` of issued tokens
    token_ttl: Annotated[float, BeforeValidator(_seconds), Field(ge=60)] = 300.0  # spec: never below 60 s
    refresh_token_ttl: Seconds = 30 * 86400.0
    key_dir: str | None = None  # default: <data_dir>/auth (signing keys, the key that encrypts AWS secrets)
    failure_limit: int = Field(10, ge=1)  # failed logins per client address and window, then 429
    failure_window: Seconds = 300.0


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    access: bool = True


_toml_file: ContextVar[Path | None] = ContextVar("toml_file", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAIS_", env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    metadata: MetadataSettings = MetadataSettings()
    uploads: UploadSettings = UploadSettings()
    manifests: ManifestSettings = ManifestSettings()
    repositories: RepositorySettings = RepositorySettings()
    ecr: EcrSettings = EcrSettings()
    pulls: PullSettings = PullSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    gc: GcSettings = GcSettings()
    auth: AuthSettings = AuthSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_toml_file.get())

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


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load(config_file: str | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Settings:
    """Defaults < TOML file < CAIS_* environment < command-line overrides."""
    if config_file is not None and not os.path.isfile(config_file):
        raise ConfigError(f"config file {config_file} does not exist")
    token = _toml_file.set(Path(config_file) if config_file else None)
    try:
        return Settings(**cast(dict[str, Any], overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _toml_file.reset(token)
