package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hookd/hookd/core/api"
)

// The OpenAPI document checks the API's real answers: every response a
// test of this package receives through bundle.do is validated against
// it with kin-openapi's openapi3filter (status, headers, body against the
// schema), so that the description cannot drift from the code. Requests
// are validated too where a test says they are meant to be valid
// (TestOpenAPIEveryRoute); the other tests send bad input on purpose.

var specOnce = sync.OnceValues(func() (*specChecker, error) {
	loader := openapi3.NewLoader()
	// The document as served: this checks the YAML-to-JSON conversion too.
	doc, err := loader.LoadFromData(api.OpenAPIJSON)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	// Route by path only: the test servers listen on other hosts than
	// the document's example server.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, err
	}
	return &specChecker{doc: doc, router: router}, nil
})

type specChecker struct {
	doc    *openapi3.T
	router routers.Router
}

func spec(t testing.TB) *specChecker {
	t.Helper()
	s, err := specOnce()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return s
}

// options: authentication is the API's own business (tested on its own);
// every status must be documented.
var specOptions = &openapi3filter.Options{
	AuthenticationFunc:    func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
	IncludeResponseStatus: true,
	MultiError:            true,
}

// check validates one exchange. A request the document has no operation
// for (an unknown route, a method a path does not have) is left alone:
// TestOpenAPIEveryRoute checks that every route served is documented.
// With validRequest the request itself must match the document too. It
// returns the operation ("METHOD /path") whose answer matched, or "".
func (s *specChecker) check(t *testing.T, req *http.Request, body []byte, status int, header http.Header, respBody []byte, validRequest bool) string {
	t.Helper()
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(vreq)
	if err != nil {
		if validRequest {
			t.Errorf("%s %s: no operation in openapi.yaml (%v)", req.Method, req.URL.Path, err)
		}
		return ""
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: specOptions}
	if validRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: the request does not match openapi.yaml: %v", req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: specOptions}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		var me openapi3.MultiError
		msg := err.Error()
		if errors.As(err, &me) {
			msg = me.Error()
		}
		t.Errorf("%s %s: the answer %d does not match openapi.yaml: %s\nbody: %s", req.Method, req.URL.Path, status, msg, respBody)
		return ""
	}
	return route.Method + " " + route.Path
}

// operations lists "METHOD /path" of every operation in the document.
func (s *specChecker) operations() []string {
	var out []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	return out
}
