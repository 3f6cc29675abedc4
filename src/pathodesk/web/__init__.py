"""Web layer: FastAPI app, routes, templates and the built front-end."""
