// Swagger UI started from a file, not an inline script, so the page's CSP can forbid inline code.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
