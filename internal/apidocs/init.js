// Starts Swagger UI on the API's own OpenAPI document. "Try it out" calls
// the server this page came from (listed first as "this server"); the
// Authorize button takes an access token from POST /api/auth/login/.
// Nothing is loaded from anywhere else: no validator badge, no fonts.
"use strict";
fetch("../openapi.json", { credentials: "omit" })
  .then(function (r) {
    if (!r.ok) { throw new Error("GET ../openapi.json: " + r.status); }
    return r.json();
  })
  .then(function (spec) {
    var here = window.location.origin;
    var others = (spec.servers || []).filter(function (s) { return s.url !== here; });
    spec.servers = [{ url: here, description: "this server" }].concat(others);
    window.ui = SwaggerUIBundle({
      spec: spec,
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      displayRequestDuration: true,
      validatorUrl: null,
      persistAuthorization: false,
      withCredentials: false
    });
  })
  .catch(function (err) {
    document.getElementById("swagger-ui").textContent = "Could not load the API document: " + err;
  });
