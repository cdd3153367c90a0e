// Package bench holds Strata's benchmarks, each measured against a baseline in the same run,
// and the generators of the synthetic estates they load.
package bench

import (
	"strconv"
	"strings"
)

// Estate returns the text of a strata.yaml with envs environments and services services:
// environments come in extends chains of up to five (a root per region, then replicas and
// tenants beneath it), each setting a few config keys and labels; every service declares a
// schema of ten keys (defaults, an enum, a secret, interpolated URLs), and every fifth
// service overrides two keys for every chain root. The output depends only on the counts.
func Estate(envs, services int) []byte {
	var b strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}
	itoa := strconv.Itoa
	tiers := []string{"dev", "staging", "prod"}

	w("project: estate")
	w("defaults:")
	w("  config:")
	w("    LOG_LEVEL: info")
	w("    TIMEOUT_MS: 3000")
	w("    TRACING: false")
	w("    REGION_DOMAIN: ${env.labels.region}.example.com")
	w("environments:")
	for i := 0; i < envs; i++ {
		name := envName(i)
		w("  ", name, ":")
		depth := i % 5
		if depth == 0 {
			w("    labels: {tier: ", tiers[(i/5)%3], ", region: r", itoa((i/5)%7), "}")
			w("    config: {DB_HOST: db.", name, ".internal, REPLICAS: 2, FEATURE_", itoa(i%10), ": true}")
			continue
		}
		w("    extends: ", envName(i-1))
		w("    labels: {tenant: t", itoa(i), "}")
		switch depth {
		case 1:
			w("    config: {REPLICAS: 3, CACHE_MB: 256}")
		case 2:
			w("    config: {TENANT_ID: \"", itoa(i), "\", LOG_LEVEL: warn}")
		case 3:
			w("    config: {CACHE_MB: 512, DB_HOST: \"db-${env.labels.tenant}.internal\"}")
		case 4:
			w("    config: {REPLICAS: 5, TRACING: true}")
		}
	}
	w("services:")
	for j := 0; j < services; j++ {
		name := "svc" + pad(j, 2)
		w("  ", name, ":")
		w("    deploy: ./deploy.sh ${service.name} ${release.version}")
		w("    health: {http: \"http://127.0.0.1:${config.PORT}/healthz\"}")
		w("    config:")
		w("      PORT: {type: integer, default: ", itoa(8000+j), "}")
		w("      LOG_LEVEL: {type: string, enum: [debug, info, warn, error]}")
		w("      REPLICAS: {type: integer, default: 1}")
		w("      TIMEOUT_MS: {type: integer}")
		w("      URL: {type: string, default: \"https://${service.name}.${config.REGION_DOMAIN}\"}")
		w("      DB_URL: {type: string, default: \"postgres://${config.DB_HOST}/${service.name}\"}")
		w("      API_KEY: {type: string, secret: true}")
		w("      RATIO: {type: number, default: 0.5}")
		w("      ENABLED: {type: boolean, default: true}")
		w("      INSTANCE: {type: string, default: \"${service.name}-${env.name}\"}")
		if j%5 == 0 {
			w("    overrides:")
			for i := 0; i < envs; i += 50 {
				w("      ", envName(i), ": {PORT: ", itoa(9000+j), ", REPLICAS: 4}")
			}
		}
	}
	w("pipeline:")
	for _, t := range tiers {
		w("  - stage: ", t)
		w("    environments: {tier: ", t, "}")
	}
	return []byte(b.String())
}

func envName(i int) string { return "env" + pad(i, 4) }

func pad(i, width int) string {
	s := strconv.Itoa(i)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
