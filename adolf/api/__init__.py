"""`adolf api`: the HTTP API (bearer tokens, JSON errors, OpenAPI)."""
