package plan

import (
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// GateRecall is the gate a recalled release never passes: a release marked bad with
// `strata recall` is neither promoted nor deployed until `strata unrecall` lifts the mark.
const GateRecall = "recall"

// Ref names one release: a service at a version.
type Ref struct{ Service, Version string }

// String is the release as the CLI writes it: service@version.
func (r Ref) String() string { return r.Service + "@" + r.Version }

// RecallGate judges whether service@version may be deployed at all: closed, naming who
// recalled it, when and why, while f.Recalls holds its recall. A promotion's gates include
// it (Gates); a direct deploy and a rollback ask for it alone.
func RecallGate(service, version string, f Facts) Gate {
	ref := Ref{service, version}
	r := f.Recalls[ref]
	if r == nil {
		return Gate{Name: GateRecall, OK: true, Detail: ref.String() + " is not recalled"}
	}
	return Gate{Name: GateRecall, Detail: fmt.Sprintf("%s was recalled by %s at %s: %s; `strata unrecall %s --reason R` lifts it",
		ref, r.By, r.At.UTC().Format(time.RFC3339), r.Reason, ref)}
}

// recallGate is RecallGate for every release a promotion carries (a train's members): the
// first recalled one closes it.
func recallGate(r Request, f Facts) Gate {
	var g Gate
	for _, m := range r.Train() {
		if g = RecallGate(m.Service, m.Version, f); !g.OK {
			return g
		}
	}
	if len(r.Train()) > 1 {
		g.Detail = "no release of the train is recalled"
	}
	return g
}

// AddRecall records in f that rel is recalled, when it is.
func AddRecall(f Facts, rel *strata.Release) {
	if rel == nil || rel.Recalled == nil || f.Recalls == nil {
		return
	}
	f.Recalls[Ref{rel.Service, rel.Version}] = rel.Recalled
}
