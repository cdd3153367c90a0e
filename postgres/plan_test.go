package postgres_test

import (
	"strings"
	"testing"
)

// On a fresh schema, before any ANALYZE, the newest succeeded deployment of each pair (plan,
// status, /metrics) is found by walking deployments_pair back from each pair's newest
// entry, not by reading every succeeded row through an index on state alone.
func TestTheNewestSucceededPerPairWalksThePairIndexOnAFreshSchema(t *testing.T) {
	name, u := schema(t)
	open(t, u)
	c := admin(t)
	exec(t, c, `SET search_path = `+name)
	exec(t, c, `INSERT INTO deployments (id, service, environment, version, state, created_at)
		SELECT 'd'||i, 'svc'||(i%10), 'env'||((i/10)%5), 'v'||i,
			CASE WHEN i%7 = 0 THEN 'failed' ELSE 'succeeded' END, 1700000000000000000 + i*1000000000::bigint
		FROM generate_series(1, 400) i`)
	rows, err := c.Query(t.Context(), `EXPLAIN SELECT n FROM deployments WHERE n IN (
		SELECT (SELECT n FROM deployments WHERE state IN ('succeeded') AND service = p.service AND environment = p.environment
			ORDER BY created_at DESC, n DESC LIMIT 1)
		FROM (SELECT DISTINCT service, environment FROM deployments) AS p) ORDER BY created_at DESC, n DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "deployments_pair") || strings.Contains(text, "deployments_state") {
		t.Errorf("the plan does not walk deployments_pair:\n%s", text)
	}
}
