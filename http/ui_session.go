package http

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// Cookie names. The session cookie holds only a random id; the token itself never leaves
// the login form, and the server keeps only its hash.
const (
	sessionCookie = "strata_session"
	loginCookie   = "strata_login"
	// sessionIdle is how long a session lasts without a request.
	sessionIdle = 12 * time.Hour
	// sessionMax is how long a session lasts at most.
	sessionMax = 7 * 24 * time.Hour
)

// session is one logged-in browser.
type session struct {
	id      string
	hash    string // the token's hash
	csrf    string
	created time.Time
	seen    time.Time

	mu       sync.Mutex
	flash    string
	flashErr bool
}

// checkCSRF reports whether r carries the session's CSRF token, in the form field "csrf"
// or, from htmx, in the X-CSRF-Token header.
func (s *session) checkCSRF(r *http.Request) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// setFlash keeps a message for the next page this session sees.
func (s *session) setFlash(msg string, isErr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flash, s.flashErr = msg, isErr
}

// takeFlash returns the message kept for this page, once.
func (s *session) takeFlash() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, isErr := s.flash, s.flashErr
	s.flash, s.flashErr = "", false
	return msg, isErr
}

// sessions maps session ids to sessions, in memory: a restarted server asks everyone to
// log in again, which is the safe direction.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, now: now}
}

// start makes a session for a token hash and sets its cookie.
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, hash string) *session {
	now := ss.now()
	s := &session{id: randomToken(), hash: hash, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	ss.m[s.id] = s
	ss.sweepLocked(now)
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.id, Path: "/", HttpOnly: true,
		Secure: isHTTPS(r), SameSite: http.SameSiteStrictMode, MaxAge: int(sessionMax / time.Second)})
	return s
}

// get returns the live session r's cookie names, or nil.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[c.Value]
	if s == nil {
		return nil
	}
	if now.Sub(s.seen) > sessionIdle || now.Sub(s.created) > sessionMax {
		delete(ss.m, s.id)
		return nil
	}
	s.seen = now
	return s
}

// end forgets a session and clears its cookie.
func (ss *sessions) end(w http.ResponseWriter, r *http.Request, s *session) {
	ss.mu.Lock()
	delete(ss.m, s.id)
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// sweepLocked drops expired sessions so the map does not grow without bound.
func (ss *sessions) sweepLocked(now time.Time) {
	for id, s := range ss.m {
		if now.Sub(s.seen) > sessionIdle || now.Sub(s.created) > sessionMax {
			delete(ss.m, id)
		}
	}
}

// randomToken returns 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginView is the data of the login page.
type loginView struct {
	CSRF  string
	Next  string
	Error string
}

// loginPage shows the token form. Its CSRF token is a second cookie, compared with the
// form's field on POST, since there is no session yet to hold it.
func (u *ui) loginPage(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	u.showLogin(w, r, http.StatusOK, "")
}

func (u *ui) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	csrf := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: csrf, Path: "/login", HttpOnly: true,
		Secure: isHTTPS(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	u.render(w, r, nil, status, "login", "Log in", loginView{CSRF: csrf, Next: safeNext(r.FormValue("next")), Error: msg})
}

// login checks a pasted token and starts a session for it. A failure counts against the
// client's address as a bad API token does; an address that has failed too often is shown
// a message and 429 without its token being looked up (authLimiter).
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		u.showLogin(w, r, http.StatusForbidden, "The login form expired; paste the token again.")
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	if secret == "" {
		u.showLogin(w, r, http.StatusBadRequest, "Paste a token made by `strata token create`.")
		return
	}
	hash := strata.HashToken(secret)
	at, err := u.limit.admit(r, hash)
	var t throttled
	if errors.As(err, &t) {
		secs := retryAfter(t.retry)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.showLogin(w, r, http.StatusTooManyRequests, "Too many failed logins from your address. Wait "+seconds(secs)+" and try again.")
		return
	}
	tok, err := lookupToken(r.Context(), u.tokens, hash)
	at.done(err)
	if strata.ErrorCode(err) == strata.EUNAUTHORIZED {
		u.log.Info("dashboard login refused", "remote", client(r))
		u.showLogin(w, r, http.StatusUnauthorized, "That token is unknown or was revoked.")
		return
	}
	if err != nil {
		u.fail(w, r, nil, err)
		return
	}
	u.sessions.start(w, r, hash)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	u.log.Info("dashboard login", "principal", tok.Name, "role", tok.Role)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// logout ends the session.
func (u *ui) logout(w http.ResponseWriter, r *http.Request, v *visit) {
	u.sessions.end(w, r, v.session)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login destination on this site: a path, never "//host" or a URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

// buffers keeps page buffers for reuse: the matrix page is large.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	b := buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		buffers.Put(b)
	}
}
