package http

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// The dashboard's templates and static files travel inside the binary.
var (
	//go:embed html/*.html
	uiTemplates embed.FS
	//go:embed assets
	uiAssets embed.FS
)

// ui serves the web dashboard: server-rendered pages over the same engine and store the
// JSON API reads, a cookie session per browser that maps to a token hash, and a CSRF token
// per session that every POST must carry.
type ui struct {
	// engine is the server's engine; each request acts through a copy whose Actor is the
	// token's name.
	engine *engine.Engine
	// project returns the server's project as it is now (short-lived environments come and
	// go while it serves); each page reads it once. Nil keeps engine's project.
	project func() *strata.Project
	// tokens finds the valid token with a hash (ENOTFOUND when there is none or it was
	// revoked); it is asked on every request, so a revoked token ends its sessions at once.
	tokens func(ctx context.Context, hash string) (*strata.Token, error)
	// limit is the server's count of failed authentication per client address, which the
	// login form shares with the API; nil limits nothing.
	limit *authLimiter
	log   *slog.Logger
	now   func() time.Time
	// bg outlives requests: an approval that opened the last gate runs its deployments
	// under it, after the page that asked for it has been answered.
	bg       context.Context
	work     sync.WaitGroup
	pages    map[string]*template.Template
	sessions *sessions
	// detach is how long a page waits for an approval's work before answering; tests
	// shorten it.
	detach time.Duration
	// poll is how often a live deployment page's event stream reads the store.
	poll time.Duration
	// snaps is the server's one snapshot of the deployments, which the API's status
	// shares (status_cache.go).
	snaps *snapshots
}

// registerUI adds the dashboard's routes to mux. The server calls it from its routes setup.
// The dashboard's pages check their own cookie sessions; the API also accepts a session
// (sessionHash), for reads, and for changes only with the session's CSRF header.
func (s *Server) registerUI(mux *http.ServeMux) {
	u, err := newUI(s.engine, s.store.TokenByHash, s.log)
	if err != nil {
		// The templates are embedded and parsed by the tests: this cannot happen in a
		// binary that passed them, but it must not take the API down with it.
		s.log.Error("dashboard disabled", "err", err)
		return
	}
	u.project = s.cur.Load
	u.snaps = s.snaps
	u.limit = s.limit
	u.routes(mux)
	s.sessionHash = u.sessionHash
}

// sessionHash returns the token hash of r's session. A request that changes something must
// also carry the session's CSRF token, so that no other site can act through the cookie.
func (u *ui) sessionHash(r *http.Request) (string, bool) {
	sess := u.sessions.get(r)
	if sess == nil {
		return "", false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get("X-CSRF-Token")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			return "", false
		}
	}
	return sess.hash, true
}

// newUI parses the templates and returns a dashboard over e.
func newUI(e *engine.Engine, tokens func(context.Context, string) (*strata.Token, error), log *slog.Logger) (*ui, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := e.Now
	if now == nil {
		now = time.Now
	}
	u := &ui{engine: e, tokens: tokens, log: log, now: now, bg: context.Background(),
		snaps: &snapshots{}, sessions: newSessions(now), detach: 700 * time.Millisecond, poll: 250 * time.Millisecond}
	pages, err := parsePages(u.funcs())
	if err != nil {
		return nil, err
	}
	u.pages = pages
	return u, nil
}

// parsePages parses each page template together with the shared layout.
func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(uiTemplates, "html/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(uiTemplates, "html/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "html/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(uiTemplates, n)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// routes registers every page. GET pages need a session with read; POSTs also need the
// session's CSRF token.
func (u *ui) routes(mux *http.ServeMux) {
	assets, _ := fs.Sub(uiAssets, "assets")
	files := http.FileServerFS(assets)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The file names carry their versions, so they may be kept a long time.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.Handle("POST /logout", u.page(u.logout))
	mux.Handle("GET /{$}", u.page(u.matrix))
	mux.Handle("GET /releases", u.page(u.releases))
	mux.Handle("GET /releases/{service}/{version}", u.page(u.release))
	mux.Handle("GET /promotions/{id}", u.page(u.promotion))
	mux.Handle("POST /promotions/{id}/approve", u.page(u.approve))
	mux.Handle("POST /promotions/{id}/reject", u.page(u.reject))
	mux.Handle("GET /deployments/{id}", u.page(u.deployment))
	mux.Handle("GET /deployments/{id}/events", u.page(u.deploymentEvents))
	mux.Handle("GET /audit", u.page(u.audit))
	mux.Handle("GET /webhooks", u.page(u.webhooks))
	mux.Handle("GET /agents", u.page(u.agents))
	mux.Handle("GET /diff", u.page(u.diff))
	mux.Handle("GET /flags", u.page(u.flags))
	mux.Handle("POST /flags/{key}/kill", u.page(u.flagSwitch(true)))
	mux.Handle("POST /flags/{key}/unkill", u.page(u.flagSwitch(false)))
	mux.Handle("GET /stats", u.page(u.stats))
	mux.Handle("GET /environments/{name}", u.page(u.environment))
	mux.Handle("POST /environments/{name}/freeze", u.page(u.freezeEnv))
	mux.Handle("POST /environments/{name}/unfreeze", u.page(u.unfreezeEnv))
	mux.Handle("POST /environments/{name}/runs", u.page(u.runTask))
	mux.Handle("POST /environments/{name}/rollback", u.page(u.rollbackService))
	mux.Handle("POST /releases/{service}/{version}/promote", u.page(u.promoteRelease))
	mux.Handle("POST /releases/{service}/{version}/recall", u.page(u.recallRelease))
	mux.Handle("POST /releases/{service}/{version}/unrecall", u.page(u.unrecallRelease))
	mux.Handle("POST /groups/{group}/switch", u.page(u.switchGroup))
	mux.Handle("POST /runs/{id}/approve", u.page(u.decideRun(false)))
	mux.Handle("POST /runs/{id}/reject", u.page(u.decideRun(true)))
	mux.Handle("GET /services/{name}", u.page(u.service))
	mux.Handle("GET /graph", u.page(u.graph))
}

// visit is one authenticated page request: who asks, through which session, and the
// engine acting as them.
type visit struct {
	token   *strata.Token
	session *session
	engine  *engine.Engine
}

// can reports whether the visitor's role allows action.
func (v *visit) can(action string) bool { return strata.Permits(v.token.Role, action) }

// covers reports whether the visitor's token reaches the named environment. An environment
// the project no longer declares is reached only by tokens that reach every environment.
func (v *visit) covers(name string) bool {
	if len(v.token.Envs) == 0 {
		return true
	}
	env := v.engine.Project.Environment(name)
	return env != nil && v.token.Covers(env)
}

// coversAll reports whether the visitor's token reaches every named environment.
func (v *visit) coversAll(names []string) bool {
	for _, n := range names {
		if !v.covers(n) {
			return false
		}
	}
	return true
}

// page wraps a handler with the session check (a browser without a session goes to the
// login page), the read permission every page needs, CSRF on POST, and security headers.
func (u *ui) page(h func(w http.ResponseWriter, r *http.Request, v *visit)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		sess := u.sessions.get(r)
		if sess == nil {
			u.toLogin(w, r)
			return
		}
		tok, err := u.tokens(r.Context(), sess.hash)
		if strata.ErrorCode(err) == strata.ENOTFOUND {
			u.sessions.end(w, r, sess)
			u.toLogin(w, r)
			return
		}
		if err != nil {
			u.fail(w, r, nil, err)
			return
		}
		if name, ok := r.Context().Value(principalKey{}).(*string); ok {
			*name = tok.Name // for the server's request log
		}
		e := *u.engine
		e.Actor = tok.Name
		if u.project != nil {
			e.Project = u.project()
		}
		v := &visit{token: tok, session: sess, engine: &e}
		if r.Method == http.MethodPost && !sess.checkCSRF(r) {
			u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "this form has expired or did not come from this dashboard; reload the page and try again"))
			return
		}
		if !v.can(strata.ActRead) {
			u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s (role %s) may not read", tok.Name, tok.Role))
			return
		}
		h(w, r, v)
	})
}

// toLogin sends a browser to the login page, remembering where it wanted to go. An htmx
// request is told to load the login page as a whole rather than swap it into a fragment.
func (u *ui) toLogin(w http.ResponseWriter, r *http.Request) {
	target, next := "/login", r.URL.RequestURI()
	if cur, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && cur.Path != "" {
		next = cur.RequestURI() // htmx asked for a fragment: come back to the page it is on
	}
	if r.Method == http.MethodGet && next != "/" {
		target += "?next=" + url.QueryEscape(next)
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// securityHeaders keeps the pages from being framed, sniffed or given foreign scripts.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// layoutData is what every page's layout needs besides the page's own data.
type layoutData struct {
	Title     string
	Principal string
	Role      string
	CSRF      string
	Flash     string
	FlashErr  bool
	Nav       string
	Page      any
}

// render executes a page inside the layout. It renders into a buffer first so that a
// template error becomes a 500, not half a page.
func (u *ui) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, data any) {
	t := u.pages[name]
	if t == nil {
		u.log.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	ld := layoutData{Title: title, Nav: name, Page: data}
	if v != nil {
		ld.Principal, ld.Role, ld.CSRF = v.token.Name, v.token.Role, v.session.csrf
		ld.Flash, ld.FlashErr = v.session.takeFlash()
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := t.ExecuteTemplate(buf, "layout.html", ld); err != nil {
		u.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Message string
}

// fail shows err as a page with the HTTP status its code maps to. Internal errors show a
// generic message; their text goes only to the server log.
func (u *ui) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	status, msg := uiStatus(err)
	if status == http.StatusInternalServerError {
		u.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if v == nil {
		securityHeaders(w)
		http.Error(w, msg, status)
		return
	}
	u.render(w, r, v, status, "error", http.StatusText(status), errorPage{Status: status, Message: msg})
}

// uiStatus maps an error to an HTTP status and a message fit to show.
func uiStatus(err error) (int, string) {
	var se *strata.Error
	if !errors.As(err, &se) {
		return http.StatusInternalServerError, "internal error; the server log has the details"
	}
	switch se.Code {
	case strata.EINVALID:
		return http.StatusBadRequest, se.Error()
	case strata.ENOTFOUND:
		return http.StatusNotFound, se.Error()
	case strata.ECONFLICT, strata.EBLOCKED:
		return http.StatusConflict, se.Error()
	case strata.EUNAUTHORIZED:
		return http.StatusForbidden, se.Error()
	case strata.EFAILED:
		return http.StatusOK, se.Error()
	}
	return http.StatusInternalServerError, "internal error; the server log has the details"
}
