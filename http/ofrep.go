package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/flag"
)

// OpenFeature's Remote Evaluation Protocol (OFREP): every OpenFeature SDK's OFREP provider
// evaluates flags here with no Strata code. Its shapes, status codes and error codes are the
// protocol's (open-feature/protocol service/openapi.yaml), not the API's: a success is
// {key, value, reason, variant, metadata}, a failure {key, errorCode, errorDetails}.
//
// A client authenticates with a client token (`strata token create NAME --role client
// --env ENV`), as "Authorization: Bearer TOKEN" or "X-API-Key: TOKEN"; the token names the
// environment, the client never does. Flags come from a per-server cache (flag.Cache) that
// sees a change made through any server sharing the store within a second.

// maxOFREPBody bounds an evaluation request: a context is a few attributes.
const maxOFREPBody = 64 << 10

// registerOFREP serves the two OFREP evaluation routes on mux.
func (s *Server) registerOFREP(mux *http.ServeMux) {
	s.ofrep = &ofrepState{flags: &flag.Cache{Src: flagSource{s}, Now: s.now}}
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", cors(s.ofrepOne))
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags", cors(s.ofrepBulk))
	mux.HandleFunc("OPTIONS /ofrep/v1/evaluate/flags/{key}", cors(preflight))
	mux.HandleFunc("OPTIONS /ofrep/v1/evaluate/flags", cors(preflight))
}

// cors lets web pages of any origin call OFREP, as OpenFeature's web provider does from a
// browser: a client authenticates with a token it sends itself (never a cookie), so no
// origin gains anything another does not have. The API and the dashboard send no such
// headers.
func cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", "ETag, Retry-After")
		h(w, r)
	}
}

// preflight answers a browser's CORS preflight of an OFREP request.
func preflight(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, X-API-Key")
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// ofrepState is what the OFREP routes keep between requests.
type ofrepState struct {
	flags *flag.Cache
}

// flagSource is what the flag cache reads through the server's store and engine.
type flagSource struct{ s *Server }

func (f flagSource) FlagsVersion(ctx context.Context) (int64, error) {
	return f.s.store.FlagsVersion(ctx)
}

func (f flagSource) FlagStates(ctx context.Context, env string) ([]*strata.FlagState, error) {
	return f.s.store.FlagStates(ctx, env)
}

func (f flagSource) Running(ctx context.Context, env string) (map[string]string, error) {
	cur, err := f.s.engine.Current(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for pair, d := range cur {
		if pair.Environment == env {
			out[pair.Service] = d.Version
		}
	}
	return out, nil
}

// ofrepFailure is one evaluation that failed, or (Key empty) a request that did.
type ofrepFailure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorDetails string `json:"errorDetails"`
}

// ofrepSnapshot authenticates the request as a client token and returns its environment's
// flags and the evaluation context of the body. It writes the failure itself and returns
// nil when there is one.
func (s *Server) ofrepSnapshot(w http.ResponseWriter, r *http.Request, key string) (*flag.Snapshot, map[string]any, string) {
	if r.Header.Get("Authorization") == "" {
		if k := r.Header.Get("X-API-Key"); k != "" {
			r.Header.Set("Authorization", "Bearer "+k)
		}
	}
	t, err := s.authenticate(r) // a client token is trusted for CachedTokenTTL (token_cache.go)
	if err != nil {
		var th throttled
		if errors.As(err, &th) {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter(th.retry)))
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="strata"`)
		}
		s.ofrepWrite(w, httpStatus(err), ofrepFailure{ErrorDetails: publicMessage(err)})
		return nil, nil, ""
	}
	r = withToken(r, t)
	p := s.cur.Load()
	envName := t.ClientEnv()
	env := p.Environment(envName)
	if envName == "" || env == nil {
		what := "its role is " + t.Role + "; OFREP takes a client token (strata token create NAME --role client --env ENV)"
		if envName != "" {
			what = "its environment " + envName + " is no longer in the project"
		}
		s.auditDenied(r.Context(), r, t, strata.ActEval, envName)
		s.ofrepWrite(w, http.StatusForbidden, ofrepFailure{ErrorDetails: t.Name + " cannot evaluate flags: " + what})
		return nil, nil, ""
	}
	ctx, fail := readOFREPContext(r)
	if fail != nil {
		fail.Key = key
		s.ofrepWrite(w, http.StatusBadRequest, fail)
		return nil, nil, ""
	}
	snap, err := s.ofrep.flags.Env(r.Context(), p, env)
	if err != nil {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		s.ofrepWrite(w, http.StatusInternalServerError, ofrepFailure{ErrorDetails: internalMessage})
		return nil, nil, ""
	}
	return snap, ctx, env.Name
}

// readOFREPContext reads {"context": {...}}; an empty body is an empty context.
func readOFREPContext(r *http.Request) (map[string]any, *ofrepFailure) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOFREPBody+1))
	if err != nil {
		return nil, &ofrepFailure{ErrorCode: flag.ErrParse, ErrorDetails: "cannot read the request body"}
	}
	if len(body) > maxOFREPBody {
		return nil, &ofrepFailure{ErrorCode: flag.ErrParse, ErrorDetails: "the request body is larger than 64 KiB; send {\"context\": {...}} with a few attributes"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &ofrepFailure{ErrorCode: flag.ErrParse, ErrorDetails: "the body is not JSON of the form {\"context\": {\"targetingKey\": \"user-1\", ...}}"}
	}
	ctx := map[string]any{}
	if len(req.Context) > 0 && string(req.Context) != "null" {
		if err := json.Unmarshal(req.Context, &ctx); err != nil || ctx == nil {
			return nil, &ofrepFailure{ErrorCode: flag.ErrInvalidContext, ErrorDetails: "context must be a JSON object of attributes, such as {\"targetingKey\": \"user-1\", \"plan\": \"gold\"}"}
		}
	}
	if tk, ok := ctx[flag.TargetingKey]; ok {
		if _, isStr := tk.(string); !isStr {
			return nil, &ofrepFailure{ErrorCode: flag.ErrInvalidContext, ErrorDetails: "targetingKey must be a string (a stable id of the user)"}
		}
	}
	return ctx, nil
}

// ofrepOne is POST /ofrep/v1/evaluate/flags/{key}.
func (s *Server) ofrepOne(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	snap, ctx, env := s.ofrepSnapshot(w, r, key)
	if snap == nil {
		return
	}
	f := snap.Flags[key]
	if f == nil {
		s.metrics.flagEvaluated(key, flag.ErrFlagNotFound)
		shown := key
		if len(shown) > 128 { // no declared key is longer: do not echo a client's megabyte
			shown, key = shown[:128]+"...", shown[:128]
		}
		s.ofrepWrite(w, http.StatusNotFound, ofrepFailure{Key: key, ErrorCode: flag.ErrFlagNotFound,
			ErrorDetails: "no flag " + strconv.Quote(shown) + " in " + env + "; flags are declared under flags: in strata.yaml"})
		return
	}
	res := flag.Evaluate(f, ctx, snap.Running)
	s.metrics.flagEvaluated(key, reasonOrError(res))
	body, err := snap.Encoded(res, encoder(env, snap))
	if err != nil {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		s.ofrepWrite(w, http.StatusInternalServerError, ofrepFailure{ErrorDetails: internalMessage})
		return
	}
	status := http.StatusOK
	if res.ErrorCode != "" {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ofrepBulk is POST /ofrep/v1/evaluate/flags: every flag of the environment, with an ETag
// over the answer so that a polling client is told 304 Not Modified until it changes.
func (s *Server) ofrepBulk(w http.ResponseWriter, r *http.Request) {
	snap, ctx, env := s.ofrepSnapshot(w, r, "")
	if snap == nil {
		return
	}
	body := make([]byte, 0, 160*len(snap.Order)+16)
	body = append(body, `{"flags":[`...)
	enc := encoder(env, snap)
	for i, f := range snap.Order {
		res := flag.Evaluate(f, ctx, snap.Running)
		s.metrics.flagEvaluated(f.Key, reasonOrError(res))
		b, err := snap.Encoded(res, enc)
		if err != nil {
			s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			s.ofrepWrite(w, http.StatusInternalServerError, ofrepFailure{ErrorDetails: internalMessage})
			return
		}
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
	}
	body = append(body, "]}"...)
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// etagMatches reports whether an If-None-Match header names etag (weak or strong, or *).
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// ofrepMeta is a success's metadata: where the answer came from.
type ofrepMeta struct {
	Environment string `json:"environment"`
	Part        string `json:"part"`
	Source      string `json:"source,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// encoder returns how an evaluation in env is written: the protocol's success, or its
// failure {key, errorCode, errorDetails}.
func encoder(env string, snap *flag.Snapshot) func(flag.Result) ([]byte, error) {
	return func(res flag.Result) ([]byte, error) {
		if res.ErrorCode != "" {
			return json.Marshal(ofrepFailure{Key: res.Key, ErrorCode: res.ErrorCode, ErrorDetails: res.Detail})
		}
		part, _, _ := strings.Cut(res.Part, "[")
		md := ofrepMeta{Environment: env, Part: res.Part, Source: snap.Flags[res.Key].Sources[part], Detail: res.Detail}
		return json.Marshal(struct {
			Key      string    `json:"key"`
			Value    any       `json:"value"`
			Reason   string    `json:"reason"`
			Variant  string    `json:"variant,omitempty"`
			Metadata ofrepMeta `json:"metadata"`
		}{res.Key, res.Value, res.Reason, res.Variant, md})
	}
}

// reasonOrError is what /metrics counts an evaluation by.
func reasonOrError(res flag.Result) string {
	if res.ErrorCode != "" {
		return res.ErrorCode
	}
	return res.Reason
}

func (s *Server) ofrepWrite(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errorDetails":"`+internalMessage+`"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
