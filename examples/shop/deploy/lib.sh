# lib.sh: helpers the shop's deploy and destroy scripts share. Sourced, never run on its own.
#
# Each (service, environment) keeps its state under .run/$STRATA_ENV/:
#   $STRATA_SERVICE/shop   the copy of the release's binary that runs
#   $STRATA_SERVICE.pid    the process id of the running instance
#   $STRATA_SERVICE.log    what the instance printed
#   $STRATA_SERVICE.ready  the instance's process id, written by it once it listens

run_dir=".run/$STRATA_ENV"
pid_file="$run_dir/$STRATA_SERVICE.pid"
log_file="$run_dir/$STRATA_SERVICE.log"
ready_file="$run_dir/$STRATA_SERVICE.ready"
bin="$PWD/$run_dir/$STRATA_SERVICE/shop"

# alive PID: true while PID is a live process. A zombie holds no port and waits only to be
# reaped, so it counts as gone.
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	if [ -r "/proc/$1/stat" ]; then
		state=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
		[ "$state" != Z ] || return 1
	fi
	return 0
}

# ours PID: true when PID runs this (service, environment)'s binary, so that a stale pid
# file (after a reboot, say) never makes us kill a stranger.
ours() {
	alive "$1" || return 1
	[ -r "/proc/$1/cmdline" ] || return 0
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$bin"
}

# stop_instance: stop the running instance, if any, and wait until it is gone. Safe to call
# when nothing runs, and again after a crash half-way through.
stop_instance() {
	[ -f "$pid_file" ] || return 0
	pid=$(cat "$pid_file")
	if [ -n "$pid" ] && ours "$pid"; then
		echo "stopping $STRATA_SERVICE in $STRATA_ENV (pid $pid)"
		kill "$pid" 2>/dev/null || true
		i=0
		while alive "$pid"; do
			i=$((i + 1))
			if [ "$i" -eq 50 ]; then
				echo "$STRATA_SERVICE (pid $pid) ignored SIGTERM for 5s; sending SIGKILL" >&2
				kill -9 "$pid" 2>/dev/null || true
			fi
			if [ "$i" -ge 100 ]; then
				echo "$STRATA_SERVICE (pid $pid) would not stop" >&2
				return 1
			fi
			sleep 0.1
		done
	fi
	rm -f "$pid_file" "$ready_file"
}
