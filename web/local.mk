# web/local.mk: the HTTP server, API endpoints, metrics exposition.
