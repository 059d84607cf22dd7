// Starts Swagger UI over the API's own document. An external script, not an inline one: the page's
// Content-Security-Policy runs scripts of this origin only.
(function () {
  // The document is next to this page (/docs -> /api/openapi.json), also behind a stage prefix.
  var base = window.location.origin + window.location.pathname.replace(/docs\/?$/, "");
  window.ui = SwaggerUIBundle({
    url: base + "api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default would send the document to validator.swagger.io.
    validatorUrl: null,
    // Tokens pasted into "Authorize" stay in the tab, never in localStorage.
    persistAuthorization: false,
  });
})();
