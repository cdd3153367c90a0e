#!/bin/sh
# app.sh: deploy one release of the shop's api or web (whichever $STRATA_SERVICE names) into
# $STRATA_ENV on loopback. Idempotent: run it again and the same release ends up running once.
#
# Strata gives every config key as a variable (PORT, LOG_LEVEL, API_URL, ...); the app reads
# them from the environment it inherits. Secrets such as DATABASE_PASSWORD arrive the same way
# when they are set; this script never needs them.
set -eu
. ./deploy/lib.sh

: "${PORT:?PORT is not set: declare it in the service's config schema}"

mkdir -p "$run_dir/$STRATA_SERVICE"
stop_instance

# The artifact directory is read-only and shared by every environment: run a copy. Copy then
# rename, so a half-written binary is never started.
cp "$STRATA_ARTIFACTS/shop" "$bin.new"
chmod 755 "$bin.new"
mv -f "$bin.new" "$bin"

# Detach: setsid leaves the step's process group (a step timeout kills that group), nohup and
# the redirections let the step's output pipe close as soon as this script ends. The child
# writes its own pid file before it becomes the app (exec keeps the pid), so that even a
# crash right here leaves a pid file naming the app for the next attempt to stop.
detach=
if command -v setsid >/dev/null 2>&1; then
	detach=setsid
fi
# The app writes its pid to $ready_file once it listens: until then, whatever answers on
# the port is not this release.
ready=$ready_file
rm -f "$ready"
SHOP_ROLE="$STRATA_SERVICE" SHOP_ENV="$STRATA_ENV" SHOP_READY="$ready" nohup sh -c 'echo $$ >"$1" && shift && exec "$@"' \
	sh "$pid_file" $detach "$bin" </dev/null >>"$log_file" 2>&1 &
pid=$!

# Wait until the app listens, or ends: a port already taken, or a bad flag, ends it, and
# then say so here, with its log, rather than leave it to the health check (which another
# environment's server on that port could pass). Give up after 30 seconds.
i=0
while [ "$(cat "$ready" 2>/dev/null)" != "$pid" ]; do
	if ! alive "$pid"; then
		echo "$STRATA_SERVICE exited as it started; the end of $log_file:" >&2
		tail -n 20 "$log_file" >&2
		rm -f "$pid_file" "$ready"
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -ge 300 ]; then
		echo "$STRATA_SERVICE (pid $pid) did not listen on port $PORT within 30s; stopping it. The end of $log_file:" >&2
		tail -n 20 "$log_file" >&2
		stop_instance
		rm -f "$ready"
		exit 1
	fi
	sleep 0.1
done
echo "started $STRATA_SERVICE $STRATA_VERSION in $STRATA_ENV (pid $pid) on http://127.0.0.1:$PORT"

# Dependents read this: web's API_URL is ${outputs.api.URL}.
echo "URL=http://127.0.0.1:$PORT" >>"$STRATA_OUTPUTS"
