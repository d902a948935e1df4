// Starts the vendored Swagger UI on /docs (kept out of the page: CSP allows no inline script).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
