"""What an inventory holds: packages found in an image, and the operating system it runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

# Package kinds, named as their package URL types are.
DEB, APK, PYPI, NPM, GOLANG = "deb", "apk", "pypi", "npm", "golang"
MANAGERS = {DEB: "OS", APK: "OS", PYPI: "PYTHONPKG", NPM: "NODEPKG", GOLANG: "GOBINARY"}  # ECR's packageManager


@dataclass(frozen=True, slots=True)
class Package:
    kind: str
    name: str
    version: str
    path: str  # the file it was found in
    source: str | None = None  # the source package (dpkg Source:, apk origin) when it differs
    source_version: str | None = None
    arch: str | None = None
    layer: str | None = None  # digest of the layer that introduced it, once the layers are merged

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.version)

    def in_layer(self, layer: str) -> Package:
        return replace(self, layer=layer)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Package:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class OperatingSystem:
    """From os-release: ID (debian, alpine...), VERSION_ID (12, 3.19.1) and a pretty name."""

    id: str
    version_id: str | None
    name: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatingSystem:
        return cls(**data)

    @property
    def distro(self) -> str:
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


def purl(package: Package, os: OperatingSystem | None) -> str:
    """The package URL (https://github.com/package-url/purl-spec) of a package."""
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {}
    namespace: str | None = None
    name = package.name
    if package.kind in (DEB, APK):
        namespace = os.id if os is not None else ("debian" if package.kind == DEB else "alpine")
        if package.arch:
            qualifiers["arch"] = package.arch
        if package.source and package.source != package.name:
            qualifiers["upstream"] = package.source
        if os is not None:
            qualifiers["distro"] = os.distro
    elif package.kind in (NPM, GOLANG) and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return str(
        PackageURL(type=package.kind, namespace=namespace, name=name, version=package.version, qualifiers=qualifiers)
    )
