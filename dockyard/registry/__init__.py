"""The dockyard registry: an OCI distribution spec 1.1 server (aiohttp).

Modules, one job each:

- ``storage``: the storage-driver interface and the filesystem driver (blob bytes).
- ``metadata``: repositories, blob links, manifests, tags, referrers, uploads,
  users, stars (SQLite, one file in the storage directory).
- ``names``, ``errors``: request grammar and the spec's error JSON.
- ``blobs``, ``uploads``, ``manifests``, ``listing``: the distribution API.
- ``auth``, ``accounts``, ``search``, ``gc``, ``web``: the rest.
- ``app``: the aiohttp application; ``server``: running it.
"""
