#!/bin/sh
# The CI recipe's one script (docs/ci.md): record what this job built as a release on a Strata
# server, let it land in the pipeline's auto stages, and, when PROMOTE_TO names a stage, ask
# for it there. The job fails when a deployment fails (exit 1) or a gate is closed (exit 3),
# and the summary file says why: on GitHub it is the job's summary page.
#
# Needs: strata on PATH; STRATA_SERVER and STRATA_TOKEN (a deployer token scoped to the
# stages this job may reach); SERVICE, VERSION and ARTIFACT (a file or directory CI built);
# run in a checkout of the project (its strata.yaml and the service's step files travel with
# the release). Optional: PROMOTE_TO (a stage), SUMMARY (default $GITHUB_STEP_SUMMARY, else
# strata-summary.md).
set -eu
: "${STRATA_SERVER:?set STRATA_SERVER to the Strata server URL}"
: "${STRATA_TOKEN:?set STRATA_TOKEN to a deployer token (strata token create ci --role deployer --envs ...)}"
: "${SERVICE:?set SERVICE to the service to release}"
: "${VERSION:?set VERSION to the version CI built}"
: "${ARTIFACT:?set ARTIFACT to the file or directory CI built}"
summary="${SUMMARY:-${GITHUB_STEP_SUMMARY:-strata-summary.md}}"

strata release "$SERVICE" --version "$VERSION" --artifact "$ARTIFACT" --summary "$summary"
if [ -n "${PROMOTE_TO:-}" ]; then
  strata promote "$SERVICE@$VERSION" --to "$PROMOTE_TO" --summary "$summary"
fi
