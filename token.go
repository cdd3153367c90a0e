package strata

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Token is an API credential of `strata serve`: a principal (its Name, who acts in the
// audit log), a role, and the environments it covers. Only the hash of its secret is kept.
type Token struct {
	Name string `json:"name"`
	// Role is RoleViewer, RoleDeployer, RoleApprover or RoleAdmin.
	Role string `json:"role"`
	// Envs are label selectors (see ParseSelector); any may match. None means every
	// environment.
	Envs []map[string]string `json:"envs"`
	// Hash is the hex sha256 of the secret (HashToken). It is never shown to anyone.
	Hash      string    `json:"-"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the token was revoked; zero while it is valid.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Roles, from least to most allowed. A role is scoped by the token's environment selectors.
const (
	RoleViewer   = "viewer"   // reads
	RoleDeployer = "deployer" // reads; deploys, promotes, rolls back, releases
	RoleApprover = "approver" // reads; approves and rejects promotions
	RoleAdmin    = "admin"    // everything: freezes, window overrides, tokens, secrets
	// RoleAgent is a `strata agent`'s credential: it claims, renews, logs and reports the
	// deployments of the environments it covers, and reads their bundles; nothing else, not
	// even a read of the estate.
	RoleAgent = "agent"
	// RoleClient is an application's token: it evaluates the flags of the one environment
	// it is bound to (its only selector names it) over OFREP, and does nothing else.
	RoleClient = "client"
)

// Roles lists every role, in the order help text shows them.
var Roles = []string{RoleViewer, RoleDeployer, RoleApprover, RoleAdmin, RoleAgent, RoleClient}

// Actions a request needs; Permits says which roles may take them.
const (
	ActRead    = "read"     // every read
	ActDeploy  = "deploy"   // deploy, promote, rollback, release, env create/destroy
	ActApprove = "approve"  // approve, reject
	ActAdmin   = "admin"    // freeze, unfreeze, override windows, tokens, secrets, resume
	ActAgent   = "agent"    // register, claim, renew, log and report deployments as an agent
	ActFetch   = "fetch"    // download a release's bundle (an agent: only those of its claims)
	ActEval    = "evaluate" // evaluate flags over OFREP (client tokens only)
)

// permissions is the one table of who may do what.
var permissions = map[string][]string{
	RoleViewer:   {ActRead},
	RoleDeployer: {ActRead, ActFetch, ActDeploy},
	RoleApprover: {ActRead, ActApprove},
	RoleAdmin:    {ActRead, ActFetch, ActDeploy, ActApprove, ActAdmin},
	// An agent's token does the agent's work and nothing else: an admin's does not do it
	// either, so that a deployment is only ever run by a credential made to run it.
	RoleAgent:  {ActAgent, ActFetch},
	RoleClient: {ActEval},
}

// Permits reports whether role may take action. An unknown role or action permits nothing.
func Permits(role, action string) bool {
	return slices.Contains(permissions[role], action)
}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	_, ok := permissions[role]
	return ok
}

// ClientEnv returns the environment a client token is bound to, "" for any other token.
// The client never chooses it: it is the name its one selector gives.
func (t *Token) ClientEnv() string {
	if t == nil || t.Role != RoleClient || len(t.Envs) != 1 || len(t.Envs[0]) != 1 {
		return ""
	}
	return t.Envs[0]["name"]
}

// Revoked reports whether t has been revoked.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Covers reports whether t's selectors admit env: any selector that matches its name and
// labels (see Matches), or every environment when t has none. A nil env is not covered.
func (t *Token) Covers(env *Environment) bool {
	if env == nil {
		return false
	}
	if len(t.Envs) == 0 {
		return true
	}
	for _, sel := range t.Envs {
		if Matches(sel, env.Name, env.Labels) {
			return true
		}
	}
	return false
}

// Allows reports whether t's role permits action and t covers every one of envs (none
// needed for an action that names no environment). A revoked token allows nothing.
func (t *Token) Allows(action string, envs ...*Environment) bool {
	if t == nil || t.Revoked() || !Permits(t.Role, action) {
		return false
	}
	for _, env := range envs {
		if !t.Covers(env) {
			return false
		}
	}
	return true
}

// Selectors returns t's selectors as text ("tier=prod,region=eu-west"), in order.
func (t *Token) Selectors() []string {
	out := make([]string, 0, len(t.Envs))
	for _, sel := range t.Envs {
		out = append(out, FormatSelector(sel))
	}
	return out
}

// selectorExample ends every selector error, so the user sees what would be right.
const selectorExample = "want key=value[,key=value...] over an environment's labels (name is its name), e.g. tier=prod,region=eu-west or name=staging"

// ParseSelector parses "key=value[,key=value...]": every pair must match an environment's
// labels, with the key name standing for the environment's name. It returns an EINVALID
// *Error, with an example, for anything else.
func ParseSelector(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, Errorf(EINVALID, "empty environment selector; %s", selectorExample)
	}
	sel := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.TrimSpace(part) == "":
			return nil, Errorf(EINVALID, "environment selector %q has an empty pair (a stray comma?); %s", s, selectorExample)
		case !ok:
			return nil, Errorf(EINVALID, "environment selector %q: %q has no '='; %s", s, part, selectorExample)
		case k == "" || v == "":
			return nil, Errorf(EINVALID, "environment selector %q: %q needs both a key and a value; %s", s, part, selectorExample)
		case strings.Contains(v, "=") || strings.IndexFunc(k+v, badSelectorRune) >= 0 || !utf8.ValidString(k+v):
			return nil, Errorf(EINVALID, "environment selector %q: %q holds a space, a character that is not printable or a second '='; %s", s, part, selectorExample)
		}
		if old, dup := sel[k]; dup && old != v {
			return nil, Errorf(EINVALID, "environment selector %q: %s is both %q and %q, which no environment can be; repeat --envs for either one", s, k, old, v)
		}
		sel[k] = v
	}
	return sel, nil
}

// badSelectorRune reports whether r may not appear in a selector's key or value: a space,
// or anything CheckLine refuses (a control or invisible formatting character).
func badSelectorRune(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }

// FormatSelector writes sel as ParseSelector reads it, keys in order.
func FormatSelector(sel map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(sel)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + sel[k])
	}
	return b.String()
}

// tokenPrefix starts every secret, so that scanners and people recognise a leaked one.
const tokenPrefix = "strata_"

// NewTokenSecret returns a new random secret ("strata_" and 32 random bytes in lowercase
// base32) and its hash, the only thing a store keeps.
func NewTokenSecret() (secret, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	secret = tokenPrefix + strings.ToLower(enc.EncodeToString(b[:]))
	return secret, HashToken(secret)
}

// HashToken returns the hex sha256 of a token's secret, the key a store finds it by. The
// secret is high-entropy, so a plain hash (no salt, no stretching) is enough.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// ValidTokenName reports whether name can name a token: 1 to 64 letters, digits, '.', '-',
// '_' or '@', starting with a letter or digit (it appears as the actor in the audit log).
func ValidTokenName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && strings.ContainsRune(".-_@", r):
		default:
			return false
		}
	}
	return true
}
