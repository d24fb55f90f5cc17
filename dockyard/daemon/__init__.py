"""The Docker Engine API daemon: `dockyard daemon`.

An aiohttp application on a unix socket (or tcp on loopback) that the real
`docker` CLI and the `docker` Python SDK talk to. It is thin: every route
parses the request, calls the engine, the container verbs or the registry
client in a worker thread, and shapes Docker's JSON. Modules:

  server      start, lock the store, serve, clean up the socket
  middleware  /v1.NN/ prefixes, Docker's error bodies, request logging
  workers     the thread pool and one Store/Engine per worker thread
  hijack      the HTTP upgrade (101 UPGRADED) and the raw stream after it
  hub         containers started by this daemon: attach before start, exits
  events      the in-process event bus behind GET /events
  progress    Docker's JSON progress stream
  routes_*    one module per area: system, images, containers, exec, archive
"""
