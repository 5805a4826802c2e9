"""The supervisor API: server, auth, routes, models (→ OpenAPI), metrics, wallboard, masking."""
