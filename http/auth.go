package http

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// tokenKey holds the authenticated token in a request's context.
type tokenKey struct{}

// authenticate finds the request's token: "Authorization: Bearer TOKEN", else the
// dashboard's session cookie. No token, a malformed header, an unknown or a revoked token
// are all EUNAUTHORIZED (401), with one message that does not say which. An agent or
// client bearer token is trusted for CachedTokenTTL after it was looked up (tokenCache). A bearer token from
// an address that has failed too often is refused (429) without being looked up, unless
// this server has seen it authenticate (authLimiter); a session's hash came from this
// server, not the client, so it is not limited.
func (s *Server) authenticate(r *http.Request) (*strata.Token, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return nil, strata.Errorf(strata.EUNAUTHORIZED, "the Authorization header must be \"Bearer TOKEN\"")
		}
		hash, now := strata.HashToken(strings.TrimSpace(secret)), s.now()
		if t, ok := s.tokens.get(hash, now); ok {
			return t, nil // an agent or client token looked up within CachedTokenTTL
		}
		at, err := s.limit.admit(r, hash)
		if err != nil {
			return nil, err
		}
		t, err := lookupToken(r.Context(), s.store.TokenByHash, hash)
		at.done(err)
		if err == nil {
			s.tokens.put(hash, t, now)
		}
		return t, err
	}
	if s.sessionHash != nil {
		if hash, ok := s.sessionHash(r); ok {
			return lookupToken(r.Context(), s.store.TokenByHash, hash)
		}
	}
	return nil, strata.Errorf(strata.EUNAUTHORIZED, "no token: send \"Authorization: Bearer TOKEN\" (`strata token create` makes one where the store is)")
}

// lookupToken finds the valid token whose secret hashes to hash with find (the store's
// TokenByHash). An unknown or revoked token is EUNAUTHORIZED; other errors are the store's.
func lookupToken(ctx context.Context, find func(context.Context, string) (*strata.Token, error), hash string) (*strata.Token, error) {
	t, err := find(ctx, hash)
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		return nil, strata.Errorf(strata.EUNAUTHORIZED, "unknown or revoked token")
	}
	if err != nil {
		return nil, err
	}
	// The store found it by hash; comparing again in constant time costs nothing and keeps a
	// store that matched loosely from letting anyone in.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 || t.Revoked() {
		return nil, strata.Errorf(strata.EUNAUTHORIZED, "unknown or revoked token")
	}
	return t, nil
}

// withToken returns r carrying t, and names t's principal for the request log.
func withToken(r *http.Request, t *strata.Token) *http.Request {
	if name, ok := r.Context().Value(principalKey{}).(*string); ok {
		*name = t.Name
	}
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, t))
}

// tokenOf returns the request's authenticated token, nil when there is none.
func tokenOf(r *http.Request) *strata.Token {
	t, _ := r.Context().Value(tokenKey{}).(*strata.Token)
	return t
}

// actionWords says what each action allows, for messages.
var actionWords = map[string]string{
	strata.ActRead:    "read",
	strata.ActEval:    "evaluate flags over OFREP",
	strata.ActDeploy:  "deploy (release, deploy, promote, roll back)",
	strata.ActApprove: "approve and reject promotions",
	strata.ActAdmin:   "administer (freeze, override windows, resume, verify the audit log)",
}

// rolesFor names the roles that permit action, for messages.
func rolesFor(action string) string {
	var out []string
	for _, role := range strata.Roles {
		if strata.Permits(role, action) {
			out = append(out, role)
		}
	}
	return strings.Join(out, " or ")
}

// authorize checks that t's role permits action and that t covers every named environment.
// An unknown environment is ENOTFOUND (it is checked before coverage, so a scoped token
// learns only what `env list` would tell anyone). A denial is recorded in the audit log.
func (s *Server) authorize(ctx context.Context, r *http.Request, t *strata.Token, p *strata.Project, action string, envs ...string) error {
	if !strata.Permits(t.Role, action) {
		s.auditDenied(ctx, r, t, action, "")
		return deny("%s is a %s token; this needs a token allowed to %s (role %s)", t.Name, t.Role, actionWords[action], rolesFor(action))
	}
	for _, name := range envs {
		env := p.Environment(name)
		if env == nil {
			return unknownEnv(p, name)
		}
		if !t.Covers(env) {
			s.auditDenied(ctx, r, t, action, name)
			return deny("%s's token does not cover environment %s (it covers %s)", t.Name, name, coverage(t))
		}
	}
	return nil
}

// coverage describes the environments a token covers.
func coverage(t *strata.Token) string {
	if len(t.Envs) == 0 {
		return "every environment"
	}
	return strings.Join(t.Selectors(), " or ")
}

// auditDenied records a refused request in the audit log (never the token).
func (s *Server) auditDenied(ctx context.Context, r *http.Request, t *strata.Token, action, env string) {
	detail, _ := json.Marshal(map[string]string{"method": r.Method, "path": r.URL.Path, "action": action, "role": t.Role})
	ev := &strata.Event{Actor: t.Name, Action: "request.denied", Environment: env, Detail: detail}
	if err := s.store.AppendEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Warn("record denied request", "err", err)
	}
}

// covered reports whether the token covers the named environment. An environment the
// project no longer has (a destroyed short-lived one) is covered only by a token that covers
// every environment, so its deployments and audit events stay readable to that token.
func (c *call) covered(env string) bool {
	return coversAll(c.tok) || c.tok.Covers(c.p.Environment(env))
}

// coversAll reports whether t covers every environment of the project: nothing needs
// filtering for it.
func coversAll(t *strata.Token) bool { return len(t.Envs) == 0 }

// allowEstate checks the token may take action and covers every environment: what the
// request reads or does concerns the whole estate and cannot be cut to a token's scope
// (/metrics counts every deployment). A scoped token is refused with 403, audited, and told
// what token would do.
func (c *call) allowEstate(action, what string) error {
	if err := c.allow(action); err != nil {
		return err
	}
	if coversAll(c.tok) {
		return nil
	}
	c.s.auditDenied(c.r.Context(), c.r, c.tok, action, "")
	return deny("%s counts the whole estate; %s's token covers only %s. Use a token made without --envs (e.g. `strata token create prometheus --role viewer`)", what, c.tok.Name, coverage(c.tok))
}

// seesEvent reports whether t may see audit event e of p (report.SeesEvent).
func seesEvent(t *strata.Token, p *strata.Project, e *strata.Event) bool {
	if coversAll(t) {
		return true
	}
	return report.SeesEvent(p, func(name string) bool {
		env := p.Environment(name)
		return env != nil && t.Covers(env)
	}, e)
}
