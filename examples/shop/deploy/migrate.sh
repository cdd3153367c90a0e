#!/bin/sh
# migrate.sh: apply the release's migrations to $STRATA_ENV's database, in order, each once.
# The "database" of this example is a directory: schema.sql collects what was applied and
# schema_version holds the number of the last migration. Migrations only go forward, so
# running an older release (or this one again) applies nothing.
set -eu

db="$PWD/.run/$STRATA_ENV/db"
mkdir -p "$db"
applied=$(cat "$db/schema_version" 2>/dev/null || echo 0)

for f in "$STRATA_ARTIFACTS"/*.sql; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	n=$(expr "${name%%_*}" + 0)
	if [ "$n" -gt "$applied" ]; then
		echo "applying $name to $STRATA_ENV"
		cat "$f" >>"$db/schema.sql"
		echo "$n" >"$db/schema_version.new"
		mv -f "$db/schema_version.new" "$db/schema_version"
		applied=$n
	fi
done
echo "$STRATA_ENV is at schema version $applied"

# observe reads this back: the release whose migrations ran last.
echo "$STRATA_VERSION" >"$db/release"

# Dependents read this: api's DB_URL is ${outputs.migrations.DB_URL}.
echo "DB_URL=file://$db" >>"$STRATA_OUTPUTS"
