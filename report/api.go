// Package report holds the documents Strata's commands produce — the JSON of `strata -o json`
// and of the HTTP API, which are the same documents — with the builders that make them from
// the project, the engine and the store, and the text renderers that print them. The CLI
// renders a document the same way whether it was built here in-process or came back from a
// `strata serve`, so output and exit statuses match locally and remotely.
//
// Builders check their input as the CLI always has (unknown names are ENOTFOUND and list
// the known ones) and return *strata.Error values. A builder that returns both a document
// and an error (a promotion that waits on a gate, a deployment that failed) means: print the
// document, then exit with the error's status.
package report

import (
	"strings"

	"github.com/strata-dev/strata/internal/suggest"

	"github.com/strata-dev/strata"
)

// KnownList formats names for "unknown X; known: a, b, c" messages (internal/suggest).
func KnownList(names []string) string { return suggest.List(names) }

// Unknown returns the not-found error for a name of some kind, listing the known ones and
// naming the likely one (internal/suggest).
func Unknown(kind, name string, known []string) error {
	return &strata.Error{Code: strata.ENOTFOUND, Message: suggest.Unknown(kind, name, known)}
}

// NeedEnv checks that env (a required --env) names a known environment of p.
func NeedEnv(p *strata.Project, env string) error {
	if env == "" {
		return strata.Errorf(strata.EINVALID, "--env is required; environments: %s", KnownList(p.EnvironmentNames()))
	}
	if p.Environment(env) == nil {
		return Unknown("environment", env, p.EnvironmentNames())
	}
	return nil
}

// NeedService checks that service names a service of p.
func NeedService(p *strata.Project, service string) error {
	if p.Service(service) == nil {
		return Unknown("service", service, p.ServiceNames())
	}
	return nil
}

// SplitRef reads SERVICE[@VERSION].
func SplitRef(ref string) (service, version string) {
	service, version, _ = strings.Cut(ref, "@")
	return service, version
}
