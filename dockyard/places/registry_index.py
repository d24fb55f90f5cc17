"""`image copy --all` between registries: an index and every manifest it lists, each
with its config and layers, copied as they are (same bytes, same digests: attestation
and other artifact manifests included). Each blob is streamed from one registry to
the other, hashed on the way and refused when it does not match its digest; blobs
the destination has already are skipped."""

from __future__ import annotations

from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import Descriptor, Index, Manifest, parse_manifest_or_index
from dockyard.places.base import Event, Report
from dockyard.places.registry import FetchedManifest, RegistryRepository

MAX_DEPTH = 4


async def copy_index(
    source: RegistryRepository,
    fetched: FetchedManifest,
    destination: RegistryRepository,
    tag: str,
    report: Report,
) -> Digest:
    """Copy the manifest (an index, or a single image) ``fetched`` and all it refers to;
    put it under ``tag``. Returns its digest."""
    await _copy_manifest(source, fetched, destination, report, 0)
    return await destination.put_manifest(tag, fetched.body, fetched.media_type)


async def _copy_manifest(
    source: RegistryRepository,
    fetched: FetchedManifest,
    destination: RegistryRepository,
    report: Report,
    depth: int,
) -> None:
    if depth > MAX_DEPTH:
        raise InvalidArchive("image indexes nested too deeply")
    parsed = parse_manifest_or_index(fetched.body, fetched.media_type or None)
    if isinstance(parsed, Index):
        for entry in parsed.manifests:
            child = await source.get_manifest(str(entry.digest))
            media_type = child.media_type or entry.media_type
            await _copy_manifest(
                source,
                FetchedManifest(child.body, media_type, child.digest),
                destination,
                report,
                depth + 1,
            )
            await destination.put_manifest(str(child.digest), child.body, media_type)
        return
    assert isinstance(parsed, Manifest)
    for blob in [parsed.config, *parsed.layers]:
        await _copy_blob(source, blob, destination, report)


async def _copy_blob(
    source: RegistryRepository, blob: Descriptor, destination: RegistryRepository, report: Report
) -> None:
    from dockyard.places.registry_upload import upload_stream

    item = blob.digest.short
    if await destination.blob_size(blob.digest, destination.push_scope) is not None:
        report(Event(item, "Layer already exists" if blob.media_type in mt.LAYERS else "Exists"))
        return
    hasher = blob.digest.hasher()
    received = [0]

    async def chunks():  # type: ignore[no-untyped-def]
        async for chunk in source.blob_chunks(blob.digest, 0, lambda _status, _total: None):
            hasher.update(chunk)
            received[0] += len(chunk)
            if received[0] > blob.size:
                raise InvalidArchive(
                    f"blob {blob.digest}: more than the {blob.size} bytes announced"
                )
            report(Event(item, "Copying", received[0], blob.size))
            yield chunk

    def checked() -> Digest:
        actual = Digest(blob.digest.algorithm, hasher.hexdigest())
        if actual != blob.digest or received[0] != blob.size:
            raise InvalidArchive(f"blob verification failed for digest {blob.digest}")
        return actual

    await upload_stream(destination, chunks(), checked)
    report(Event(item, "Copied"))
