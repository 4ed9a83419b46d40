// Swagger UI over this service's own document. Everything is loaded from this origin
// (the page's Content-Security-Policy allows nothing else); the online validator badge
// is switched off, as it would call out.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
});
