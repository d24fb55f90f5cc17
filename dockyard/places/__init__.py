"""Places an image can live in: the store, a registry, a docker archive, an OCI layout, a rootfs tar.

Each place is one module; ``docker_archive`` reads and writes docker-archive and
OCI-archive tars (``save`` / ``load``).
"""
