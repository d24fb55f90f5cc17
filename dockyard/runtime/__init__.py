"""The OCI runtime side of a container, below the container verbs: the runtime
driver (``ocirt``: crun/runc), the OCI spec (``spec``, ``seccomp``, ``users``,
``procenv``), the overlay root filesystem (``rootfs``, ``etcfiles``), state files
(``state``), the json-file log (``jsonlog``), the monitor's wire framing and attach
client (``stream``, ``attach``), and Linux calls (``linux``, ``securejoin``).

The monitor that supervises a running container is ``dockyard.containers.monitor``:
it works on a container record and the store, which sit above this package.
"""
