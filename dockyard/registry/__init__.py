"""The dockyard registry: an OCI distribution spec 1.1 server (aiohttp).

Modules, one job each:

- ``server``: run it (HTTP or HTTPS, one or several worker processes), ``tuning``;
  ``app``: the aiohttp application; ``config``, ``config_file``: one process's
  settings; ``state``: the components built once per process; ``clientaddr``: the
  client behind trusted load balancers.
- ``api``: the ``/v2/`` router; ``api_blobs``, ``api_manifests``, ``api_listing``:
  the distribution API's handlers; ``api_token``: the token endpoint.
- ``content``, ``uploads``, ``upload_state``, ``hashstate``, ``streaming``,
  ``blobfile``, ``blobsend``: blobs in storage, upload sessions any node can continue,
  receiving a body, serving a blob (sendfile, or a thread's copy to a local client);
  ``manifests``: validate, store, negotiate.
- ``storage``: the storage-driver interface and its drivers (a directory, S3).
- ``metadata``: the metadata interface; ``metadata_sqlite``, ``metadata_postgres``:
  its backends; ``metadata_open``: the one a URL names; ``migrations``; ``metacopy``.
- ``names``, ``errors``: request grammar and the spec's error JSON.
- ``access``, ``tokens``, ``passwords``, ``ratelimit``, ``accounts``: who may do what.
- ``search``, ``web``, ``web_html``, ``web_session``: Docker Hub's search API, the web page.
- ``autobuild``, ``autobuild_web``: automated builds (through ``dockyard.build``).
- ``gc``: online garbage collection.
"""
