"""Places an image lives in, each an ImageSource and/or ImageDestination (base.py) that
imageops/copy.py copies between: the local store (store.py), a registry repository
(registry_source.py, registry_destination.py, registry_index.py over registry.py's
HTTP), a docker-archive (docker_archive.py), an OCI layout directory (oci_layout.py),
an OCI archive (oci_archive.py) and a flat rootfs tar (rootfs_tar.py). docs/places.md
has the map.
"""
