"""HTTP security shared by every aiohttp server: authentication, RBAC, rate limits, TLS.

Wire it with `security_middlewares(...)` (see `aetherius.http.auth`) and mark each handler with
`@require("permission")` from `aetherius.http.rbac`. docs/security.md lists what is proven and by which test.
"""
