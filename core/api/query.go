package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/validate"
)

// queryParam is a query parameter an operation takes; a list may be
// given more than once.
type queryParam struct {
	name string
	list bool
}

// queryParams are the query parameters of each operation ("GET
// /v1/deliveries"), read from the OpenAPI document, which the tests hold
// to the handlers: one list for the documentation and the check.
var queryParams = mustQueryParams(OpenAPIJSON)

func mustQueryParams(doc []byte) map[string][]queryParam {
	type param struct {
		Ref    string `json:"$ref"`
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema struct {
			Type string `json:"type"`
		} `json:"schema"`
	}
	var spec struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		panic("api: the OpenAPI document: " + err.Error())
	}
	resolve := func(ps []param) []param {
		for i, p := range ps {
			if p.Ref != "" {
				ps[i] = spec.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			}
		}
		return ps
	}
	out := map[string][]queryParam{}
	for path, item := range spec.Paths {
		var shared []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				panic("api: the OpenAPI document, " + path + ": " + err.Error())
			}
		}
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				continue // not an operation (a summary, say)
			}
			key := strings.ToUpper(method) + " " + path
			out[key] = []queryParam{}
			for _, p := range resolve(append(slices.Clone(shared), op.Parameters...)) {
				if p.In == "query" {
					out[key] = append(out[key], queryParam{name: p.Name, list: p.Schema.Type == "array"})
				}
			}
		}
	}
	return out
}

// checkQuery answers 400 for a query parameter the route does not take
// (a typo, ?status= for ?state=, would otherwise look like an unfiltered
// answer) or one given twice that is not a list, naming the parameter,
// and for a query that does not parse, on every route.
func (s *server) checkQuery(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			q, err := parseQuery(r.URL.RawQuery)
			if err == nil {
				if _, pattern := mux.Handler(r); pattern != "" {
					err = queryError(pattern, q)
				}
			}
			if err != nil {
				httpx.WriteDomainError(w, s.logger, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// parseQuery reads a query as url.ParseQuery does, but refuses the pairs
// that url.Values would drop without a word (a ';' separator, a bad
// escape) and a pair with no name: the handlers read r.URL.Query(), and a
// filter lost so would answer as if it had not been given.
func parseQuery(raw string) (url.Values, error) {
	q := url.Values{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, validate.Errorf("query", "%q cannot be read: separate parameters with &, not ;", pair)
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err == nil {
			v, err = url.QueryUnescape(v)
		}
		if err != nil {
			return nil, validate.Errorf("query", "%q cannot be read: %v", pair, err)
		}
		if name == "" {
			return nil, validate.Errorf("query", "%q has no parameter name", pair)
		}
		q[name] = append(q[name], v)
	}
	return q, nil
}

func queryError(pattern string, q map[string][]string) error {
	takes, documented := queryParams[pattern]
	if !documented {
		return nil // not this package's to judge
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		i := slices.IndexFunc(takes, func(p queryParam) bool { return p.name == name })
		switch {
		case i < 0 && len(takes) == 0:
			return validate.Errorf(name, "is not a query parameter of %s, which takes none", pattern)
		case i < 0:
			known := make([]string, len(takes))
			for j, p := range takes {
				known[j] = p.name
			}
			return validate.Errorf(name, "is not a query parameter of %s (it takes %s)", pattern, strings.Join(known, ", "))
		case len(q[name]) > 1 && !takes[i].list:
			return validate.Errorf(name, "is given %d times; give it once", len(q[name]))
		}
	}
	return nil
}
