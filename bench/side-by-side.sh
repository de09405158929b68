#!/usr/bin/env bash
# Side-by-side A/B of two running servers: both loaded AT THE SAME TIME by their own wrk
# (1 thread, 10 connections), so the machine's speed phases (docs/operations.md, "The
# hello-world's swing") hit both alike. Prints each server's CPU per request (user + system, from
# /proc) per round and the median B/A ratio. Two copies of one build gave 0.94–1.10 (median
# 0.955) over six rounds, and a later pair spread 0.71–1.61: it resolves a change of about a
# tenth, not a few percent.
#
#   bench/side-by-side.sh ROUNDS SECONDS URL_A URL_B [HEADER]
#   e.g. bench/side-by-side.sh 8 4 http://127.0.0.1:3310/api/v1/customers/cus_… \
#          http://127.0.0.1:3311/api/v1/customers/cus_… "authorization: Bearer tgk_…"
set -euo pipefail
rounds=$1 seconds=$2 url_a=$3 url_b=$4 header=${5:-x-bench: 1}
ticks_per_second=$(getconf CLK_TCK)
pid_of() { # the process listening on the URL's port
  local port; port=$(sed -E 's#^https?://[^:/]+:([0-9]+).*#\1#' <<<"$1")
  ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pid_a=$(pid_of "$url_a") pid_b=$(pid_of "$url_b")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
  a0=$(cpu_ticks "$pid_a") b0=$(cpu_ticks "$pid_b")
  wrk -t1 -c10 -d"${seconds}s" -H "$header" "$url_a" >"$out/a" &
  wrk -t1 -c10 -d"${seconds}s" -H "$header" "$url_b" >"$out/b"
  wait
  a1=$(cpu_ticks "$pid_a") b1=$(cpu_ticks "$pid_b")
  awk -v ra="$(awk '/requests in/ {print $1}' "$out/a")" -v rb="$(awk '/requests in/ {print $1}' "$out/b")" \
    -v ca=$((a1 - a0)) -v cb=$((b1 - b0)) -v hz="$ticks_per_second" -v round="$round" 'BEGIN {
      a = ca * 1e6 / hz / ra; b = cb * 1e6 / hz / rb
      printf "round %d: A %d requests, %.1f µs CPU/req | B %d requests, %.1f µs CPU/req | B/A %.3f\n", round, ra, a, rb, b, b / a
    }'
done | tee "$out/rounds"
awk '{print $NF}' "$out/rounds" | sort -n | awk '{ratio[NR] = $1} END {
  printf "median B/A CPU per request: %.3f (rounds %.3f–%.3f)\n", ratio[int((NR + 1) / 2)], ratio[1], ratio[NR]
}'
