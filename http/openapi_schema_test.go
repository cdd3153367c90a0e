package http_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTheOpenAPIDocumentIsOneAGeneratorCanUse(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
		Paths   map[string]map[string]struct {
			Parameters []struct {
				Name, In string
				Schema   map[string]any
			}
			Responses map[string]struct {
				Content map[string]struct {
					Schema map[string]any
				}
				Headers map[string]any
			}
		}
		Components struct {
			Schemas map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(x.do("carol", "GET", "/api/v1/openapi.json", nil).body), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != x.url {
		t.Errorf("servers = %+v, want this server, %s", doc.Servers, x.url)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			for _, status := range []string{"200", "400", "404", "500"} {
				r, ok := op.Responses[status]
				if !ok || r.Content["application/json"].Schema == nil {
					t.Errorf("%s: no %s response with a JSON schema", name, status)
				}
			}
			if method == "post" {
				for _, p := range op.Parameters {
					if p.In == "query" && path != "/api/v1/bundles" {
						t.Errorf("%s lists query parameter %s", name, p.Name)
					}
				}
			}
		}
	}
	typed := func(path, param, want string) {
		for _, p := range doc.Paths[path]["get"].Parameters {
			if p.Name == param {
				if p.Schema["type"] != want {
					t.Errorf("GET %s ?%s is %v, want %s", path, param, p.Schema["type"], want)
				}
				return
			}
		}
		t.Errorf("GET %s has no ?%s", path, param)
	}
	typed("/api/v1/deployments", "limit", "integer")
	typed("/api/v1/config/{service}", "explain", "boolean")
	typed("/api/v1/status", "cursor", "string")
	// The lists say where their next page is: status in its document's next, the arrays
	// in headers (docs/api.md, "Paging").
	for _, path := range []string{"/api/v1/deployments", "/api/v1/audit", "/api/v1/promotions", "/api/v1/environments", "/api/v1/status"} {
		h := doc.Paths[path]["get"].Responses["200"].Headers
		_, cursor := h["X-Next-Cursor"]
		_, link := h["Link"]
		if want := path != "/api/v1/status"; cursor != want || link != want {
			t.Errorf("GET %s's 200 documents X-Next-Cursor %v and Link %v, want %v", path, cursor, link, want)
		}
	}
	status := doc.Paths["/api/v1/status"]["get"].Responses["200"].Content["application/json"].Schema
	if status["$ref"] != "#/components/schemas/ReportStatus" || !strings.Contains(string(doc.Components.Schemas["ReportStatus"]), `"cells"`) ||
		!strings.Contains(string(doc.Components.Schemas["ReportCell"]), `"date-time"`) {
		t.Errorf("status's 200 schema is %v; want a reference to ReportStatus, whose cells are described:\n%s", status, doc.Components.Schemas["ReportCell"])
	}
}
