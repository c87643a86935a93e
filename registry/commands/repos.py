"""`cais repo create|list|show|delete|set`, `cais image list|delete` and `cais tag delete|history|revert`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from storage.images import ImageRef
from storage.manifest_store import REFERENCED
from storage.metadata.images import ImageRow
from storage.metadata.repositories import MUTABILITIES, Settings
from storage.repository_store import Repository

from ..errors import OCIError
from ..references import check_name, check_tag, parse_digest
from ..services import Services
from . import action, human_size, when


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--label takes KEY=VALUE, not {pair!r}")
        labels[key] = value
    return labels


def _settings_flags(parser: argparse.ArgumentParser, defaults: bool) -> None:
    parser.add_argument(
        "--tag-mutability",
        choices=MUTABILITIES,
        default="MUTABLE" if defaults else None,
        help="whether pushed tags may be moved to another image (the *_WITH_EXCLUSION modes flip the rule for "
        "tags matching --exclude)",
    )
    parser.add_argument(
        "--exclude", action="append", metavar="PATTERN", help="tag wildcard such as latest* (repeatable)"
    )
    scan = parser.add_mutually_exclusive_group()
    scan.add_argument(
        "--scan-on-push", dest="scan_on_push", action="store_true", default=None, help="scan pushed images"
    )
    scan.add_argument("--no-scan-on-push", dest="scan_on_push", action="store_false", help="do not scan on push")
    parser.add_argument("--description", help="free text shown by `cais repo show`")


def _show(repo: Repository) -> dict[str, Any]:
    settings = repo.settings
    return {
        "name": repo.name,
        "createdAt": when(repo.row.created_at),
        "images": repo.image_count,
        "tagMutability": settings.tag_mutability,
        "mutabilityExclusions": list(settings.mutability_exclusions),
        "scanOnPush": settings.scan_on_push,
        "description": settings.description,
        "encryption": settings.encryption,
        "tags": repo.labels,
        "repositoryPolicy": json.loads(repo.row.repository_policy) if repo.row.repository_policy else None,
        "lifecyclePolicy": json.loads(repo.row.lifecycle_policy) if repo.row.lifecycle_policy else None,
        "lifecycleEvaluatedAt": when(repo.row.lifecycle_evaluated_at),
    }


def create(args: argparse.Namespace, services: Services) -> int:
    settings = Settings(
        tag_mutability=args.tag_mutability,
        mutability_exclusions=tuple(args.exclude or ()),
        scan_on_push=bool(args.scan_on_push),
        description=args.description,
    )
    repo = services.repositories.create(args.name, settings, _labels(args.label or []))
    print(json.dumps(_show(repo), indent=2))
    return 0


def list_repositories(args: argparse.Namespace, services: Services) -> int:
    after = ""
    found: list[dict[str, Any]] = []
    if not args.json:
        print(f"{'REPOSITORY':<50} {'IMAGES':>7} {'TAG MUTABILITY':<26} CREATED")
    while page := services.repositories.page(after, 500):
        for repo in page:
            mode = repo.settings.tag_mutability
            if args.json:
                found.append({"name": repo.name, "images": repo.image_count, "tagMutability": mode})
                found[-1]["createdAt"] = when(repo.row.created_at)
            else:
                print(f"{repo.name:<50} {repo.image_count:>7} {mode:<26} {when(repo.row.created_at)}")
        after = page[-1].name
    if args.json:
        print(json.dumps(found, indent=2))
    return 0


def show(args: argparse.Namespace, services: Services) -> int:
    print(json.dumps(_show(services.repositories.get(args.name)), indent=2))
    return 0


def delete(args: argparse.Namespace, services: Services) -> int:
    repo = services.repositories.delete(args.name, args.force)
    print(f"deleted {repo.name} ({repo.image_count} images); its blobs are reclaimed by the next garbage collection")
    return 0


def set_settings(args: argparse.Namespace, services: Services) -> int:
    changes: dict[str, Any] = {}
    if args.tag_mutability is not None:
        changes["tag_mutability"] = args.tag_mutability
        changes["mutability_exclusions"] = tuple(args.exclude or ())
    elif args.exclude is not None:
        changes["mutability_exclusions"] = tuple(args.exclude)
    if args.scan_on_push is not None:
        changes["scan_on_push"] = args.scan_on_push
    if args.description is not None:
        changes["description"] = args.description
    repo = services.repositories.update(args.name, **changes)
    print(json.dumps(_show(repo), indent=2))
    return 0


def list_images(args: argparse.Namespace, services: Services) -> int:
    images = services.images.all(args.repository)
    if args.json:
        print(json.dumps([_image(image) for image in images], indent=2))
        return 0
    print(f"{'DIGEST':<71} {'TAGS':<24} {'SIZE':>10} {'PUSHED':<19} {'LAST PULLED':<19} MEDIA TYPE / ARTIFACT TYPE")
    for image in images:
        tags = ",".join(image.tags) or "<untagged>"
        kinds = image.media_type + (f" / {image.artifact_type}" if image.artifact_type else "")
        print(
            f"{image.digest:<71} {tags:<24} {human_size(image.size):>10} {when(image.pushed_at):<19} "
            f"{when(image.pulled_at):<19} {kinds}"
        )
    return 0


def _image(image: ImageRow) -> dict[str, Any]:
    return {
        "digest": image.digest,
        "tags": list(image.tags),
        "size": image.size,
        "pushedAt": when(image.pushed_at),
        "lastPulledAt": None if image.pulled_at is None else when(image.pulled_at),
        "mediaType": image.media_type,
        "artifactType": image.artifact_type,
    }


def image_reference(text: str) -> tuple[str, ImageRef]:
    """REPO:TAG or REPO@DIGEST, checked as the OCI API checks them."""
    name, at, digest = text.partition("@")
    tag = None
    if not at:
        name, colon, tag = text.rpartition(":")
        if not colon or "/" in tag:
            raise argparse.ArgumentTypeError(f"{text!r} is neither REPO:TAG nor REPO@DIGEST")
    try:
        check_name(name)
        if tag is not None:
            check_tag(tag)
        else:
            parse_digest(digest)
    except OCIError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return name, ImageRef(digest=digest or None, tag=tag)


def delete_image(args: argparse.Namespace, services: Services) -> int:
    repository, ref = args.image
    found = services.images.lookup(repository, [ref])[0].image
    if found is None:
        print(f"cais: no image {ref.tag or ref.digest} in {repository}", file=sys.stderr)
        return 1
    deletion = services.manifests.delete_images(repository, [ImageRef(digest=found.digest)])[0]
    if deletion.failure == REFERENCED:
        print(f"cais: {found.digest} is listed by an index in {repository}: delete the index first", file=sys.stderr)
        return 1
    if deletion.failure is not None:
        print(f"cais: no image {found.digest} in {repository}", file=sys.stderr)
        return 1
    tags = ", ".join(found.tags) or "untagged"
    print(f"deleted {repository}@{found.digest} ({tags}); its blobs are reclaimed by the next garbage collection")
    return 0


def tag_reference(text: str) -> tuple[str, str]:
    repository, ref = image_reference(text)
    if ref.tag is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not REPO:TAG (`cais image delete` removes images by digest)")
    return repository, ref.tag


def delete_tag(args: argparse.Namespace, services: Services) -> int:
    repository, tag = args.tag
    services.manifests.delete(repository, tag)
    print(f"deleted tag {repository}:{tag}; the image stays, untagged unless other tags point to it")
    return 0


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "-"


def tag_history(args: argparse.Namespace, services: Services) -> int:
    repository, tag = args.tag
    moves = services.manifests.tag_history(repository, tag, args.limit)
    if args.json:
        print(json.dumps([move.document() for move in moves], indent=2))
        return 0
    print(f"{'WHEN':<19}  {'WHO':<24} {'FROM':<19} -> {'TO':<19}  WHY")
    for move in moves:
        who = f"{move.actor_kind or '?'} {move.actor_name or ''}".strip()
        why = move.reason or ("deleted" if move.digest is None else "pushed" if move.previous is None else "moved")
        print(f"{when(move.at):<19}  {who:<24} {_short(move.previous):<19} -> {_short(move.digest):<19}  {why}")
    return 0


def revert_tag(args: argparse.Namespace, services: Services) -> int:
    repository, tag = args.tag
    digest = args.to
    if not digest.startswith("sha256:") or len(digest) < 71:
        known = {m.digest for m in services.manifests.tag_history(repository, tag, 1000) if m.digest}
        found = sorted(d for d in known if d.startswith(digest) or d.startswith(f"sha256:{digest}"))
        if len(found) != 1:
            print(f"cais: {digest!r} names {len(found)} digests of the history of {repository}:{tag}", file=sys.stderr)
            return 1
        digest = found[0]
    previous = services.manifests.move_tag(repository, tag, digest, args.reason)
    if previous == digest:
        print(f"{repository}:{tag} points at {digest} already")
    else:
        print(f"{repository}:{tag}: {previous} -> {digest}")
    return 0


def add(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    repo = commands.add_parser(
        "repo", help="manage repositories", description="Create, list, show, change and delete repositories."
    )
    actions = repo.add_subparsers(dest="action", metavar="ACTION", required=True)
    created = actions.add_parser(
        "create", help="create a repository", description="Create a repository with its settings."
    )
    created.add_argument("name")
    _settings_flags(created, defaults=True)
    created.add_argument("--label", action="append", metavar="KEY=VALUE", help="resource tag (repeatable)")
    created.set_defaults(handler=create)
    common(created)
    listed = actions.add_parser(
        "list", help="list repositories", description="List every repository with its image count."
    )
    listed.add_argument("--json", action="store_true", help="print JSON")
    listed.set_defaults(handler=list_repositories)
    common(listed)
    shown = actions.add_parser(
        "show", help="show a repository", description="Print a repository's settings and policies as JSON."
    )
    shown.add_argument("name")
    shown.set_defaults(handler=show)
    common(shown)
    deleted = actions.add_parser(
        "delete", help="delete a repository", description="Delete a repository; one that holds images needs --force."
    )
    deleted.add_argument("name")
    deleted.add_argument("--force", action="store_true", help="delete it even if it holds images")
    deleted.set_defaults(handler=delete)
    common(deleted)
    changed = actions.add_parser("set", help="change settings", description="Change a repository's settings.")
    changed.add_argument("name")
    _settings_flags(changed, defaults=False)
    changed.set_defaults(handler=set_settings)
    common(changed)

    image = commands.add_parser("image", help="inspect images", description="Inspect the images of a repository.")
    image_actions = image.add_subparsers(dest="action", metavar="ACTION", required=True)
    image_list = image_actions.add_parser(
        "list",
        help="list the images of a repository",
        description="List every image of REPO: digest, tags, size (manifest and blobs), push and last pull "
        "times, media type and artifact type.",
    )
    image_list.add_argument("repository", metavar="REPO")
    image_list.add_argument("--json", action="store_true", help="print JSON")
    image_list.set_defaults(handler=list_images)
    common(image_list)
    image_delete = action(
        image_actions,
        common,
        "delete",
        "delete an image",
        "Delete the image REPO:TAG points to (with every tag pointing to it), or REPO@DIGEST. An image that an "
        "index of the repository lists is kept: delete the index first. The bytes go at the next garbage "
        "collection.",
    )
    image_delete.add_argument("image", metavar="REPO:TAG|REPO@DIGEST", type=image_reference)
    image_delete.set_defaults(handler=delete_image)

    tag = commands.add_parser("tag", help="manage tags", description="Remove tags, see and revert their history.")
    tag_actions = tag.add_subparsers(dest="action", metavar="ACTION", required=True)
    tag_delete = action(
        tag_actions,
        common,
        "delete",
        "delete a tag",
        "Remove the tag REPO:TAG. The image it pointed to stays (untagged if no other tag points to it): "
        "lifecycle policies or `cais image delete` remove images.",
    )
    tag_delete.add_argument("tag", metavar="REPO:TAG", type=tag_reference)
    tag_delete.set_defaults(handler=delete_tag)
    history = action(
        tag_actions,
        common,
        "history",
        "where a tag pointed, and who moved it",
        "Every move of REPO:TAG, newest first: when, who (the user, robot, deploy rule...), from which digest to "
        "which, and why when it was not a push (a revert, a rollback).",
    )
    history.add_argument("tag", metavar="REPO:TAG", type=tag_reference)
    history.add_argument("--limit", type=int, default=100, help="moves shown (default 100)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=tag_history)
    revert = action(
        tag_actions,
        common,
        "revert",
        "point a tag back at an earlier image",
        "Move REPO:TAG back to DIGEST (an image of the repository; a digest prefix found in the tag's history "
        "does). Immutable tags stay where they are, as for a push. The move and its reason go into the history.",
    )
    revert.add_argument("tag", metavar="REPO:TAG", type=tag_reference)
    revert.add_argument("--to", required=True, metavar="DIGEST", help="the image the tag should point at")
    revert.add_argument("--reason", default="reverted with cais tag revert", help="why (kept in the history)")
    revert.set_defaults(handler=revert_tag)
