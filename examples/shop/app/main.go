// Command shop is the example estate's application: one small HTTP server that plays the
// role of the shop's api or its web front end, as the deploy script tells it.
//
// It uses the standard library only, so that `go build -o shop ./app/main.go` works in a copy
// of the estate that lives outside any Go module. Everything it needs comes from environment
// variables, which the deploy script sets from what Strata gives the step:
//
//	SHOP_ROLE          "api" or "web"
//	SHOP_ENV           the environment's name
//	PORT               the loopback port to listen on
//	STRATA_VERSION     the release's version, served on /version
//	SHOP_READY         (optional) a file the process writes its pid to once it listens
//	API_URL            (web) where the api answers
//	DB_URL             (api) where the migrations left the database
//	CURRENCY, REGION   shown on the page
//	DATABASE_PASSWORD  (api) only its presence is shown, never its value
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// settings is what the process learned from its environment at start.
type settings struct {
	Role, Env, Version, Port string
	APIURL, DBURL            string
	Currency, Region         string
	HasPassword              bool
}

func main() {
	s := settings{
		Role:        envOr("SHOP_ROLE", "api"),
		Env:         envOr("SHOP_ENV", "local"),
		Version:     envOr("STRATA_VERSION", "unknown"),
		Port:        os.Getenv("PORT"),
		APIURL:      strings.TrimRight(os.Getenv("API_URL"), "/"),
		DBURL:       os.Getenv("DB_URL"),
		Currency:    envOr("CURRENCY", "USD"),
		Region:      envOr("REGION", "-"),
		HasPassword: os.Getenv("DATABASE_PASSWORD") != "",
	}
	if s.Port == "" {
		log.Fatal("shop: PORT is not set")
	}
	srv := &http.Server{
		Addr:              "127.0.0.1:" + s.Port,
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	// Listen before saying so: the deploy script waits for the ready file, so that a port
	// another process holds fails the deployment instead of letting that process answer
	// the health check.
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatalf("shop: %v", err)
	}
	log.Printf("shop %s %s (%s) listening on %s", s.Role, s.Version, s.Env, srv.Addr)
	if ready := os.Getenv("SHOP_READY"); ready != "" {
		if err := writeReady(ready); err != nil {
			log.Fatalf("shop: %v", err)
		}
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("shop: %v", err)
	}
	log.Printf("shop %s stopped", s.Role)
}

// writeReady writes the process id to file whole (a temporary file renamed over it), so that
// the deploy script never reads half of it.
func writeReady(file string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func (s settings) routes() http.Handler {
	mux := http.NewServeMux()
	// The health answer names the role, version and environment, so that a check can tell
	// this process from another that holds the same port (strata.yaml: health.contains).
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok %s v%s (%s)\n", s.Role, s.Version, s.Env)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, s.Version)
	})
	mux.HandleFunc("GET /api/products", s.products)
	mux.HandleFunc("GET /{$}", s.page)
	return mux
}

// catalog is what the api serves: enough to show that web reached it.
type catalog struct {
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	Schema      string    `json:"schema"`
	Currency    string    `json:"currency"`
	Products    []product `json:"products"`
}

type product struct {
	Name  string `json:"name"`
	Price string `json:"price"`
}

func (s settings) catalog() catalog {
	return catalog{
		Environment: s.Env,
		Version:     s.Version,
		Schema:      s.schemaVersion(),
		Currency:    s.Currency,
		Products: []product{
			{"Layered cake", "12.00 " + s.Currency},
			{"Sedimentary sampler", "7.50 " + s.Currency},
			{"Bedrock coffee", "3.20 " + s.Currency},
		},
	}
}

// schemaVersion reads the version the migrations service recorded beside the database.
func (s settings) schemaVersion() string {
	dir, ok := strings.CutPrefix(s.DBURL, "file://")
	if !ok {
		return "unknown"
	}
	b, err := os.ReadFile(filepath.Join(dir, "schema_version"))
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func (s settings) products(w http.ResponseWriter, r *http.Request) {
	if s.Role != "api" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.catalog())
}

// fetchCatalog asks the api this web front end was given for its catalog.
func (s settings) fetchCatalog(ctx context.Context) (*catalog, error) {
	if s.APIURL == "" {
		return nil, errors.New("API_URL is not set")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.APIURL+"/api/products", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", req.URL, resp.Status)
	}
	var c catalog
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, fmt.Errorf("read %s: %w", req.URL, err)
	}
	return &c, nil
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop {{.S.Role}} · {{.S.Env}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;color:#222}
dt{font-weight:600}table{border-collapse:collapse}td{padding:.2rem .8rem;border-bottom:1px solid #ddd}
.err{color:#a00}</style></head>
<body>
<h1>shop {{.S.Role}}</h1>
<dl>
<dt>environment</dt><dd>{{.S.Env}}</dd>
<dt>version</dt><dd>{{.S.Version}}</dd>
<dt>region</dt><dd>{{.S.Region}}</dd>
{{if eq .S.Role "api"}}<dt>schema</dt><dd>{{.Catalog.Schema}}</dd>
<dt>database password</dt><dd>{{if .S.HasPassword}}set{{else}}not set{{end}}</dd>{{end}}
{{if eq .S.Role "web"}}<dt>api</dt><dd>{{.S.APIURL}}</dd>{{end}}
</dl>
{{with .Err}}<p class="err">the api did not answer: {{.}}</p>{{end}}
{{with .Catalog}}<h2>products (api {{.Version}} in {{.Environment}})</h2>
<table>{{range .Products}}<tr><td>{{.Name}}</td><td>{{.Price}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

func (s settings) page(w http.ResponseWriter, r *http.Request) {
	data := struct {
		S       settings
		Catalog *catalog
		Err     error
	}{S: s}
	switch s.Role {
	case "api":
		c := s.catalog()
		data.Catalog = &c
	case "web":
		data.Catalog, data.Err = s.fetchCatalog(r.Context())
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTmpl.Execute(w, data); err != nil {
		log.Printf("render page: %v", err)
	}
}
