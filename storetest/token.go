package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

// token returns a new token called name with role and selectors, and its secret.
func token(name, role string, envs ...map[string]string) (*strata.Token, string) {
	secret, hash := strata.NewTokenSecret()
	return &strata.Token{Name: name, Role: role, Envs: envs, Hash: hash, CreatedBy: "alice"}, secret
}

func testTokens(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a created token is found by the hash of its secret with everything it was given", func(t *testing.T) {
		s := open(t)
		tok, secret := token("ci", strata.RoleDeployer, map[string]string{"tier": "prod", "region": "eu-west"}, map[string]string{"name": "dev"})
		must(t, s.CreateToken(ctx(t), tok, &strata.Event{Actor: "alice", Action: "token.create"}))
		if tok.CreatedAt.IsZero() {
			t.Errorf("CreatedAt was not set by the store")
		}
		got, err := s.TokenByHash(ctx(t), strata.HashToken(secret))
		must(t, err)
		if got.Name != "ci" || got.Role != strata.RoleDeployer || got.Hash != tok.Hash || got.CreatedBy != "alice" ||
			!sameTime(got.CreatedAt, tok.CreatedAt) || got.Revoked() ||
			strings.Join(got.Selectors(), " ") != "region=eu-west,tier=prod name=dev" {
			t.Errorf("found %+v, want what was created: %+v", got, tok)
		}
	})

	t.Run("a token without selectors comes back without them", func(t *testing.T) {
		s := open(t)
		tok, secret := token("viewer", strata.RoleViewer)
		must(t, s.CreateToken(ctx(t), tok, nil))
		got, err := s.TokenByHash(ctx(t), strata.HashToken(secret))
		must(t, err)
		if len(got.Envs) != 0 {
			t.Errorf("selectors %v, want none (every environment)", got.Envs)
		}
	})

	t.Run("an unknown secret is not found", func(t *testing.T) {
		s := open(t)
		tok, _ := token("ci", strata.RoleAdmin)
		must(t, s.CreateToken(ctx(t), tok, nil))
		_, err := s.TokenByHash(ctx(t), strata.HashToken("strata_guess"))
		wantCode(t, err, strata.ENOTFOUND)
		_, err = s.TokenByHash(ctx(t), "")
		wantCode(t, err, strata.ENOTFOUND)
	})

	t.Run("a second valid token of one name is a conflict and changes nothing", func(t *testing.T) {
		s := open(t)
		first, _ := token("ci", strata.RoleViewer)
		must(t, s.CreateToken(ctx(t), first, nil))
		second, secret := token("ci", strata.RoleAdmin)
		wantCode(t, s.CreateToken(ctx(t), second, &strata.Event{Actor: "bob", Action: "token.create"}), strata.ECONFLICT)
		_, err := s.TokenByHash(ctx(t), strata.HashToken(secret))
		wantCode(t, err, strata.ENOTFOUND)
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 0 {
			t.Errorf("%d events after a refused create, want 0", len(evs))
		}
	})

	t.Run("a token without a valid name, role or hash is invalid", func(t *testing.T) {
		s := open(t)
		for _, tok := range []*strata.Token{
			{Name: "", Role: strata.RoleViewer, Hash: strata.HashToken("x")},
			{Name: "has space", Role: strata.RoleViewer, Hash: strata.HashToken("x")},
			{Name: "ci", Role: "root", Hash: strata.HashToken("x")},
			{Name: "ci", Role: strata.RoleViewer},
			nil,
		} {
			wantCode(t, s.CreateToken(ctx(t), tok, nil), strata.EINVALID)
		}
	})

	t.Run("a revoked token is no longer found but still listed, and its name can be reused", func(t *testing.T) {
		s := open(t)
		old, oldSecret := token("ci", strata.RoleDeployer)
		must(t, s.CreateToken(ctx(t), old, nil))
		must(t, s.RevokeToken(ctx(t), "ci", &strata.Event{Actor: "alice", Action: "token.revoke"}))
		_, err := s.TokenByHash(ctx(t), strata.HashToken(oldSecret))
		wantCode(t, err, strata.ENOTFOUND)

		fresh, freshSecret := token("ci", strata.RoleViewer)
		must(t, s.CreateToken(ctx(t), fresh, nil))
		got, err := s.TokenByHash(ctx(t), strata.HashToken(freshSecret))
		must(t, err)
		if got.Role != strata.RoleViewer {
			t.Errorf("found role %s, want the new token's viewer", got.Role)
		}
		all, err := s.Tokens(ctx(t))
		must(t, err)
		if len(all) != 2 || !all[0].Revoked() || all[1].Revoked() || all[0].Role != strata.RoleDeployer {
			t.Errorf("listed %s, want the revoked deployer then the valid viewer", describeTokens(all))
		}
	})

	t.Run("revoking audits it; revoking again or an unknown name is not found", func(t *testing.T) {
		s := open(t)
		tok, _ := token("ci", strata.RoleAdmin)
		must(t, s.CreateToken(ctx(t), tok, &strata.Event{Actor: "alice", Action: "token.create"}))
		must(t, s.RevokeToken(ctx(t), "ci", &strata.Event{Actor: "bob", Action: "token.revoke"}))
		wantCode(t, s.RevokeToken(ctx(t), "ci", &strata.Event{Actor: "bob", Action: "token.revoke"}), strata.ENOTFOUND)
		wantCode(t, s.RevokeToken(ctx(t), "nobody", nil), strata.ENOTFOUND)
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		var got []string
		for _, e := range evs {
			got = append(got, e.Actor+" "+e.Action+" "+e.Subject)
		}
		if want := "alice token.create ci|bob token.revoke ci"; strings.Join(got, "|") != want {
			t.Errorf("events %q, want %q", strings.Join(got, "|"), want)
		}
	})

	t.Run("tokens are listed by name, and never hold a secret", func(t *testing.T) {
		s := open(t)
		var secrets []string
		for _, name := range []string{"zed", "alpha", "mid"} {
			tok, secret := token(name, strata.RoleViewer)
			must(t, s.CreateToken(ctx(t), tok, &strata.Event{Actor: "alice", Action: "token.create"}))
			secrets = append(secrets, secret)
		}
		all, err := s.Tokens(ctx(t))
		must(t, err)
		var names []string
		for _, tk := range all {
			names = append(names, tk.Name)
		}
		if strings.Join(names, " ") != "alpha mid zed" {
			t.Errorf("listed %s, want alpha, mid, zed", describeTokens(all))
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		blob, _ := json.Marshal(map[string]any{"tokens": all, "events": evs})
		for _, secret := range secrets {
			if strings.Contains(string(blob), secret) {
				t.Errorf("a token's secret is in the store's records: %s", blob)
			}
		}
	})

	t.Run("of many creates of one name at once, exactly one wins", func(t *testing.T) {
		s := open(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, _ := token("ci", strata.RoleViewer)
				errs[i] = s.CreateToken(ctx(t), tok, &strata.Event{Actor: fmt.Sprint("p", i), Action: "token.create"})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch strata.ErrorCode(err) {
			case "":
				won++
			case strata.ECONFLICT:
			default:
				t.Errorf("create: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d creates won, want 1", won)
		}
	})
}

// describeTokens returns "name creator/role" for each token, for failure messages.
func describeTokens(ts []*strata.Token) string {
	var out []string
	for _, t := range ts {
		state := ""
		if t.Revoked() {
			state = " (revoked)"
		}
		out = append(out, t.Name+" "+t.CreatedBy+"/"+t.Role+state)
	}
	return strings.Join(out, ", ")
}
