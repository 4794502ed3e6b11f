#!/usr/bin/env bash
# GEMM benchmark: nota_sgemm vs raw cblas_sgemm (bench/bench_gemm.c).
#
# Builds bench_gemm (Release) into build-bench/, or into an existing build
# directory given as the first argument, runs it, prints its markdown table
# and replaces the "## GEMM: SDK vs raw cblas_sgemm" section of
# bench/RESULTS.md with it (creating the file, or putting the section first in
# it, when absent). Further arguments go to bench_gemm, e.g.
#
#     bench/gemm.sh                      # default threads, 7 repetitions
#     bench/gemm.sh build -- --threads 1 --reps 9
#     NOTA_BENCH_NO_WRITE=1 bench/gemm.sh   # print only, leave RESULTS.md
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cmd="bench/gemm.sh${*:+ $*}"
build=$root/build-bench
if [[ $# -gt 0 && $1 != -- ]]; then
    build=$(cd "$1" 2>/dev/null && pwd || echo "$1")
    shift
fi
[[ ${1:-} == -- ]] && shift
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--reps 7)

if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target bench_gemm >/dev/null

# The reference lets OpenBLAS thread its calls; afterwards its workers spin
# (sched_yield) for ~0.1 s on the cores that nota's pool needs for the next
# nota_sgemm sample. Real nota runs never thread OpenBLAS, so no spinner is
# there; a short spin timeout (2^4 cycles) keeps the reference's leftovers
# from slowing nota's side (the reference itself measured the same with it).
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
out=$("$build/bench/bench_gemm" "${args[@]}")
section=$(cat <<EOF
## GEMM: SDK vs raw cblas_sgemm

\`nota_sgemm\` (row-major, no transposes, alpha 1, beta 0, f32; cut into blocks
over libnota's own threads, OpenBLAS on one thread per block) against a
direct \`cblas_sgemm\` call threaded by OpenBLAS itself with the same thread
count, on the same buffers in the same process (OPENBLAS_THREAD_TIMEOUT=4, see
bench/gemm.sh); the target is a ratio >= 0.95. The batch-128 shapes are the
VAE's layers. Machine: $(nproc) cores.
Date: $(date -u +%Y-%m-%d). Command: \`$cmd\` (runs \`bench_gemm ${args[*]}\`).

$out
EOF
)
printf '%s\n' "$section"

if [[ -z ${NOTA_BENCH_NO_WRITE:-} ]]; then
    # Splice the section in with python3's standard library only: replace the
    # old GEMM section up to the next "## " heading, or insert it right after
    # the file's title so that it stays the first section.
    SECTION=$section /usr/bin/python3 - "$here/RESULTS.md" <<'EOF'
import os, sys
path, sec = sys.argv[1], os.environ["SECTION"].rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# nota benchmark results\n"
marker = "## GEMM: SDK vs raw cblas_sgemm"
if marker in text:
    start = text.index(marker)
    nxt = text.find("\n## ", start + 1)
    text = text[:start] + sec + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
else:
    first = text.find("\n## ")
    if first >= 0:
        text = text[:first + 1] + sec + "\n" + text[first + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + sec
open(path, "w").write(text)
print("wrote " + path)
EOF
fi
