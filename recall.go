package strata

import "time"

// Recall marks a release bad (`strata recall SERVICE@VERSION --reason R`): while it stands,
// every promotion and deployment of the release is refused by the recall gate, and `deploy`
// without a version passes it over. `strata unrecall` lifts it; both are audited.
type Recall struct {
	// By is the principal who recalled the release; Reason says why.
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// RetiredEnv is an environment that is gone: removed from strata.yaml and retired with
// `strata env retire` (How "retire"), or a short-lived one destroyed (How "destroy"). Its
// deployments stay in the store, readable in history; what ran there before At is no longer
// an orphan.
type RetiredEnv struct {
	Name string `json:"name"`
	How  string `json:"how"`
	// Services are those whose destroy step ran when it was retired.
	Services []string  `json:"services"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// How an environment went (RetiredEnv.How).
const (
	HowRetire  = "retire"
	HowDestroy = "destroy"
)
