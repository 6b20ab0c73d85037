#!/usr/bin/env bash
# Not run: .ci/run checks that shellcheck flags the unquoted variable below (SC2086).
dir=$1
rm -rf $dir/reports
