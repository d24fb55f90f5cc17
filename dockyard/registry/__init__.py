"""The dockyard registry: an OCI distribution spec 1.1 server (aiohttp).

Modules, one job each:

- ``server``: run it (HTTP or HTTPS, one or several worker processes); ``tuning``;
  ``app``: the aiohttp application; ``config``: one process's settings;
  ``state``: the components built once per process.
- ``api``: the ``/v2/`` router; ``api_blobs``, ``api_manifests``, ``api_listing``:
  the distribution API's handlers; ``api_token``: the token endpoint.
- ``content``, ``uploads``, ``streaming``, ``blobfile``: blobs in storage, upload
  sessions, receiving a body, serving a blob; ``manifests``: validate, store, negotiate.
- ``storage``: the storage-driver interface and the filesystem driver (blob bytes);
  ``metadata``: repositories, links, manifests, tags, referrers, uploads, users, stars
  (SQLite, one file in the storage directory).
- ``names``, ``errors``: request grammar and the spec's error JSON.
- ``access``, ``tokens``, ``passwords``, ``ratelimit``, ``accounts``: who may do what.
- ``search``, ``web``, ``web_html``, ``web_session``: Docker Hub's search API, the web page.
- ``gc``: online garbage collection.
"""
