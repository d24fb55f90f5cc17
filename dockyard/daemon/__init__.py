"""The Docker Engine API daemon: `dockyard daemon`.

An aiohttp application on a unix socket (or tcp on loopback) that the real
`docker` CLI and the `docker` Python SDK talk to. It is thin: every route
parses the request, calls the engine or the container verbs in a worker thread,
and shapes Docker's JSON. A long-running process: its modules import at the top
like ordinary code (no start-up tricks here). Modules:

  server       start, lock the store (lock), listen (listeners), serve, clean up
  app          the aiohttp application: every routes_* module, the middleware
  middleware   /v1.NN/ prefixes (apiversion), Docker's headers and error bodies (errors)
  workers      the thread pool and one Store/Engine per worker thread; bridge: sync
               file objects over async streams for the calls running there
  spawner      a clean process, forked at start-up, that forks container monitors
  hub          containers started by this daemon: attach before start, exits, wait;
               monitorclient, session: talking to a container's monitor
  hijack       the HTTP upgrade (101 UPGRADED) and the raw stream after it; detachkeys
  events       the in-process event bus behind GET /events
  progress     Docker's JSON progress stream (pull, push, load, import)
  createspec   POST /containers/create's body to the container verbs' options
  execproc     the processes of `docker exec`; archive: `docker cp`'s stat/tar/extract
  registryops  pull, push, search and login for the image routes
  sysinfo      facts for /version and /info
  routes_*     one module per area: system, images, containers, attach, exec,
               archive, networks
"""
