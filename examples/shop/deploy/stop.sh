#!/bin/sh
# stop.sh: destroy the shop's api or web in $STRATA_ENV: stop the process, remove its pid file
# and binary. The log stays for the curious. Safe to run when nothing runs.
set -eu
. ./deploy/lib.sh

stop_instance
rm -rf "$run_dir/$STRATA_SERVICE"
echo "$STRATA_SERVICE is gone from $STRATA_ENV"
