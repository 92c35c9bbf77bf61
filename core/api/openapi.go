package api

import (
	_ "embed"
	"net/http"
)

// OpenAPIPath serves the OpenAPI document of the API, without a key: a
// description of the routes is no secret, and clients are generated from
// it.
const OpenAPIPath = "/v1/openapi.json"

// OpenAPIYAML is the OpenAPI 3.1 document describing the whole HTTP API,
// as written (openapi.yaml); OpenAPIJSON is the same document as JSON,
// which GET /v1/openapi.json serves.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIJSON is OpenAPIYAML converted to JSON, keys in written order.
var OpenAPIJSON = mustYAMLToJSON(OpenAPIYAML)

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(OpenAPIJSON)
}
