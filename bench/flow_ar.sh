#!/usr/bin/env bash
# Autoregressive layers of the flow on Fashion-MNIST (docs/flow.md).
#
#   bench/flow_ar.sh sweep            # autoregressive layers alone: train and
#                                     # validation bits/dim for each setting
#   bench/flow_ar.sh cells            # one shared-cell layer alone (ar_shared):
#                                     # train and validation bits/dim per setting
#   bench/flow_ar.sh net              # one shared-cell layer alone, without and
#                                     # with the net prediction (4,000, 16,000 and
#                                     # 64,000 training steps): train, validation
#                                     # and test bits/dim, fit seconds
#   bench/flow_ar.sh long [WIDTH]     # the 30-minute command (a net of WIDTH units,
#                                     # default 256, 64,000 steps; patience 40):
#                                     # layers kept, fit wall, peak RSS, file size,
#                                     # validation and test bits/dim, and the test
#                                     # images of 2,000 that encode then decode
#                                     # wrongly (bench/flow_roundtrip.sh)
#   bench/flow_ar.sh pair [SECONDS]   # timed fits with ar_layers=2 and 0, back
#                                     # to back (default 300 s each): layers,
#                                     # validation and test bits/dim, peak RSS
#
# Every fit trains on the 60,000 train images with 10% held out (the
# plugin's default) on 2 threads; one job at a time. Prints markdown rows.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=${NOTA_HOST:-$here/build/nota-host}
work=$(mktemp -d /tmp/nota_flow_ar_XXXXXX)
trap 'rm -rf "$work"' EXIT

# last progress line of a fit log: "layer L: train T bpd, valid V bpd"
last_layer() { tr '\r' '\n' < "$1" | grep -oE 'layer [0-9]+: train [0-9.]+ bpd, valid [0-9.]+' | tail -1; }

case "${1:-}" in
sweep)
  echo "| bins | window | radius | layers | context | train | validation |"
  echo "|---|---|---|---|---|---|---|"
  # bins window radius layers context
  for cfg in "16 0 2 2 linear" "32 0 2 2 linear" "16 0 3 2 linear" "32 0 3 2 linear" \
             "64 0 3 2 linear" "64 1 3 2 linear" "128 2 3 2 linear" "128 3 3 2 linear" \
             "256 4 3 2 linear" "64 1 4 2 linear" "64 1 5 2 linear" "64 1 3 3 linear" \
             "64 1 3 4 linear" "64 1 3 2 quadratic"; do
    set -- $cfg
    "$H" fit --plugin flow --data fashion-mnist:train --set ar_bins="$1" --set ar_window="$2" \
      --set ar_radius="$3" --set ar_layers="$4" --set max_layers="$4" --set ar_context="$5" \
      --threads 2 --out "$work/m.nota" > "$work/fit.log" 2>&1
    read -r _ _ _ train _ _ valid <<< "$(last_layer "$work/fit.log")"
    echo "| $1 | $2 | $3 | $4 | $5 | $train | $valid |"
  done
  ;;
cells)
  echo "| pred bins | scale bins | err bins | radius | train | validation | fit s |"
  echo "|---|---|---|---|---|---|---|"
  # pred scale err radius
  for cfg in "128 16 8 3" "64 16 8 3" "256 16 8 3" "128 8 8 3" "128 32 8 3" "128 16 4 3" \
             "128 16 16 3" "128 32 16 3" "128 16 8 2" "128 16 8 4" "128 1 1 3" "128 32 1 3"; do
    set -- $cfg
    "$H" fit --plugin flow --data fashion-mnist:train --set ar_layers=1 --set ar_shared=1 \
      --set max_layers=1 --set ar_pred_bins="$1" --set ar_scale_bins="$2" --set ar_err_bins="$3" \
      --set ar_radius="$4" --threads 2 --out "$work/m.nota" > "$work/fit.log" 2>&1
    read -r _ _ _ train _ _ valid <<< "$(last_layer "$work/fit.log")"
    secs=$(grep -oE 'validation [0-9.]+ bpd; [0-9.]+ s' "$work/fit.log" | awk '{print $4}')
    echo "| $1 | $2 | $3 | $4 | $train | $valid | $secs |"
  done
  ;;
net)
  echo "| net width | training steps | train | validation | test | fit s |"
  echo "|---|---|---|---|---|---|"
  for cfg in "0 1" "128 4000" "128 16000" "128 64000"; do
    set -- $cfg
    "$H" fit --plugin flow --data fashion-mnist:train --set ar_layers=1 --set ar_shared=1 \
      --set max_layers=1 --set ar_hidden="$1" --set ar_net_steps="$2" --threads 2 \
      --out "$work/m.nota" > "$work/fit.log" 2>&1
    read -r _ _ _ train _ _ valid <<< "$(last_layer "$work/fit.log")"
    secs=$(grep -oE 'validation [0-9.]+ bpd; [0-9.]+ s' "$work/fit.log" | awk '{print $4}')
    test=$("$H" eval "$work/m.nota" --data fashion-mnist:test --threads 2 2>/dev/null |
      awk '/^bits_per_dim/ {print $2}')
    steps=$([ "$1" = 0 ] && echo "-" || echo "$2")
    echo "| $1 | $steps | $train | $valid | $test | $secs |"
  done
  ;;
long)
  echo "| layers kept | fit wall s | peak RSS MB | model file MB | validation | test | test images decoded wrongly |"
  echo "|---|---|---|---|---|---|---|"
  /usr/bin/time -v "$H" fit --plugin flow --data fashion-mnist:train --set time_limit=1800 \
    --set max_layers=4000 --set patience=40 --set ar_hidden="${2:-256}" \
    --set ar_net_steps=64000 --threads 2 --out "$work/m.nota" > "$work/fit.log" 2> "$work/fit.err"
  kept=$(grep -oE '[0-9]+ layers kept' "$work/fit.err" | grep -oE '^[0-9]+')
  valid=$(grep -oE 'validation [0-9.]+ bpd; [0-9.]+ s' "$work/fit.err" | awk '{print $2}')
  wall=$(grep -oE 'validation [0-9.]+ bpd; [0-9.]+ s' "$work/fit.err" | awk '{print $4}')
  rss=$(awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$work/fit.err")
  size=$(stat -c %s "$work/m.nota" | awk '{printf "%.0f", $1 / 1e6}')
  test=$("$H" eval "$work/m.nota" --data fashion-mnist:test --threads 2 2>/dev/null |
    awk '/^bits_per_dim/ {print $2}')
  rt=$(NOTA_HOST="$H" "$here/bench/flow_roundtrip.sh" "$work/m.nota" 2000 | awk -F'|' '{print $3 " of" $2}')
  echo "| $kept | $wall | $rss | $size | $valid | $test | $rt |"
  ;;
pair)
  secs=${2:-300}
  echo "| ar_layers | layers kept | fit wall s | peak RSS MB | validation | test |"
  echo "|---|---|---|---|---|---|"
  for ar in 2 0; do
    /usr/bin/time -v "$H" fit --plugin flow --data fashion-mnist:train --set ar_layers="$ar" \
      --set time_limit="$secs" --threads 2 --out "$work/m.nota" > "$work/fit.log" 2> "$work/fit.err"
    kept=$(grep -oE '[0-9]+ layers kept' "$work/fit.err" | grep -oE '^[0-9]+')
    valid=$(grep -oE 'validation [0-9.]+ bpd; [0-9.]+ s' "$work/fit.err" | awk '{print $2}')
    wall=$(grep -oE 'validation [0-9.]+ bpd; [0-9.]+ s' "$work/fit.err" | awk '{print $4}')
    rss=$(awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$work/fit.err")
    test=$("$H" eval "$work/m.nota" --data fashion-mnist:test --threads 2 2>/dev/null |
      awk '/^bits_per_dim/ {print $2}')
    echo "| $ar | $kept | $wall | $rss | $valid | $test |"
  done
  ;;
*)
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
