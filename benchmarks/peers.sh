#!/usr/bin/env bash
# matml beside its peers, in one sitting; each suite writes its own section of
# benchmarks/results/peers.json and keeps the other's.
#
# SUITE=equivariant (issue 13): benchmarks/speed.py times mace-small, nequip-small and
#   nequip-wide, then runs ../shared/anchors/{mace,mlip,nequix}_speed.py, each in its
#   own venv, straight after; peers.py equivariant adds the ratios against the targets,
#   FLOPs per atom-step and the mlearn Si accuracy of each timed configuration (from
#   benchmarks/results/mlearn/) -> section "equivariant".
#     SUITE=equivariant MACE_VENV=... MLIP_VENV=... NEQUIX_VENV=... bash benchmarks/peers.sh
#
# SUITE=ace (the default; issue 12): matml beside ace-jax's linear ACE on mlearn
#   -> section "ace":
#   1. matml bench mlearn        (matml's venv): train + test per element
#   2. ../shared/anchors/ace_fit.py  (ace-jax's own venv): fit + test per element, then
#      time its Si model (energy + forces + stress) on the 64- and 512-atom Si cells
#   3. benchmarks/peers.py time  : matml's Si model on the same cells, right after (2)
#   4. benchmarks/peers.py merge : both tables, the ratios, machine, versions, date and
#      the exact commands -> benchmarks/results/peers.json
#
#   bash benchmarks/peers.sh
#   ELEMENTS=Si MODEL=linear OUT=/tmp/peers.json bash benchmarks/peers.sh
#
# Settings (environment variables):
#   ACE_VENV      ace-jax's venv (default /work/venv-ace); make it with
#                 python3.11 -m venv /work/venv-ace && /work/venv-ace/bin/pip install ace-jax ase
#   MATML_VENV    matml's venv (default <repo>/.venv)
#   MATML_SHARED  the shared folder (default <repo>/../shared)
#   DATA_DIR      mlearn data, <El>/training.json + <El>/test.json
#                 (default $MATML_SHARED/data/mlearn)
#   ELEMENTS      comma-separated (default Li,Mo,Si); speed is timed only when Si is in it
#   MODEL         matml's model: descriptor (default) or linear
#   CONFIG        optional YAML for `matml bench mlearn --config` (default: its own)
#   ACE_DTYPE     precision of ace-jax's timed calculator (default float64, as the anchor's
#                 README figures; its fit is always float64); matml is timed in float32
#   ROUNDS, STEPS matml's timing: rounds x timed steps (default 3 x 20; ace-jax: 1 x STEPS)
#   WORK          folder for the runs (default a new /tmp/matml-peers.XXXXXX, kept)
#   OUT           the merged record (default <repo>/benchmarks/results/peers.json)
#   SUITE=equivariant only: MACE_VENV, MLIP_VENV, NEQUIX_VENV (default /work/venv-mace,
#                 /work/venv-mlip, /work/venv-nequix; a missing one is skipped with a
#                 message), THREADS (default 2: mace-torch's best setting here)
# Both processes use every core they may run on (XLA); `taskset -c 0 bash ...` restricts both.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SHARED=$(cd "${MATML_SHARED:-$ROOT/../shared}" && pwd)
ACE_VENV=${ACE_VENV:-/work/venv-ace}
MATML_VENV=${MATML_VENV:-$ROOT/.venv}
DATA_DIR=${DATA_DIR:-$SHARED/data/mlearn}
ELEMENTS=${ELEMENTS:-Li,Mo,Si}
MODEL=${MODEL:-descriptor}
CONFIG=${CONFIG:-}
ACE_DTYPE=${ACE_DTYPE:-float64}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-20}
OUT=${OUT:-$ROOT/benchmarks/results/peers.json}
WORK=${WORK:-}

die() { echo "peers.sh: $*" >&2; exit 1; }
SUITE=${SUITE:-ace}
if [[ $SUITE == equivariant ]]; then
  [[ -x $MATML_VENV/bin/python ]] || die "no matml venv at $MATML_VENV (MATML_VENV)"
  if [[ -z $WORK ]]; then WORK=$(mktemp -d /tmp/matml-peers.XXXXXX); fi
  mkdir -p "$WORK" "$(dirname "$OUT")"
  THREADS=${THREADS:-2}
  speed_cmd=("$MATML_VENV/bin/python" benchmarks/speed.py --threads "$THREADS"
    --models mace-small nequip-small nequip-wide --out "$WORK/speed_equivariant.json")
  for peer in mace mlip nequix; do
    var=${peer^^}_VENV
    venv=${!var:-/work/venv-$peer}
    if [[ -x $venv/bin/python ]]; then
      speed_cmd+=(--anchor "$peer=$venv/bin/python")
    else
      echo "peers.sh: no $peer venv at $venv ($var): its anchor is skipped" >&2
    fi
  done
  echo "+ ${speed_cmd[*]}"
  "${speed_cmd[@]}" 2>&1 | tee "$WORK/speed_equivariant.log"
  "$MATML_VENV/bin/python" benchmarks/peers.py equivariant \
    --speed "$WORK/speed_equivariant.json" \
    --command "peers=SUITE=equivariant THREADS=$THREADS bash benchmarks/peers.sh" \
    --command "speed=${speed_cmd[*]}" --out "$OUT"
  echo "peers.sh: runs kept in $WORK"
  exit 0
fi
[[ $SUITE == ace ]] || die "SUITE must be ace or equivariant, got '$SUITE'"
case "$MODEL" in descriptor | linear) ;; *) die "MODEL must be descriptor or linear, got '$MODEL'" ;; esac
[[ -x $ACE_VENV/bin/python ]] || die "no ace-jax venv at $ACE_VENV (ACE_VENV); make it with:
  python3.11 -m venv $ACE_VENV && $ACE_VENV/bin/pip install ace-jax ase"
"$ACE_VENV/bin/python" -c "import ace_jax, ase" 2>/dev/null ||
  die "$ACE_VENV lacks ace-jax or ase: $ACE_VENV/bin/pip install ace-jax ase"
[[ -x $MATML_VENV/bin/matml ]] || die "no matml CLI at $MATML_VENV/bin/matml (MATML_VENV)"
[[ -f $SHARED/anchors/ace_fit.py ]] || die "no $SHARED/anchors/ace_fit.py (MATML_SHARED)"
[[ -d $DATA_DIR ]] || die "no data folder $DATA_DIR (DATA_DIR)"
[[ -z $CONFIG || -f $CONFIG ]] || die "no config file $CONFIG (CONFIG)"
if [[ -z $WORK ]]; then WORK=$(mktemp -d /tmp/matml-peers.XXXXXX); fi
mkdir -p "$WORK" "$(dirname "$OUT")"
echo "peers.sh: elements $ELEMENTS, matml model $MODEL, work folder $WORK"

# 1. matml
matml_cmd=("$MATML_VENV/bin/matml" bench mlearn --elements "$ELEMENTS" --model "$MODEL"
  --data-dir "$DATA_DIR" --out "$WORK/matml_bench" --no-progress)
if [[ -n $CONFIG ]]; then matml_cmd+=(--config "$CONFIG"); fi
echo "+ ${matml_cmd[*]}"
"${matml_cmd[@]}" 2>&1 | tee "$WORK/matml_bench.log"

# 2. ace-jax (fit, test, then time its Si model)
ace_cmd=("$ACE_VENV/bin/python" "$SHARED/anchors/ace_fit.py" --elements "$ELEMENTS"
  --data "$DATA_DIR" --dtype "$ACE_DTYPE" --steps "$STEPS" --out "$WORK/ace_fit.json")
echo "+ ${ace_cmd[*]}"
"${ace_cmd[@]}" 2>&1 | tee "$WORK/ace_fit.log"

# 3. matml's Si model on the same cells, straight after ace-jax's timing
speed_args=()
time_cmd=()
if [[ ,$ELEMENTS, == *,Si,* ]]; then
  time_cmd=("$MATML_VENV/bin/python" benchmarks/peers.py time
    --model "Si=$WORK/matml_bench/Si/model.matml" --rounds "$ROUNDS" --steps "$STEPS"
    --out "$WORK/matml_speed.json")
  echo "+ ${time_cmd[*]}"
  "${time_cmd[@]}" 2>&1 | tee "$WORK/matml_speed.log"
  speed_args=(--speed "$WORK/matml_speed.json")
else
  echo "peers.sh: Si not in ELEMENTS: no speed comparison"
fi

# 4. merge
"$MATML_VENV/bin/python" benchmarks/peers.py merge --ace "$WORK/ace_fit.json" \
  --matml "$WORK/matml_bench/results.json" "${speed_args[@]}" \
  --command "peers=ELEMENTS=$ELEMENTS MODEL=$MODEL CONFIG=$CONFIG ACE_DTYPE=$ACE_DTYPE ROUNDS=$ROUNDS STEPS=$STEPS bash benchmarks/peers.sh" \
  --command "matml=${matml_cmd[*]}" --command "ace=${ace_cmd[*]}" \
  --command "matml_speed=${time_cmd[*]}" \
  --out "$OUT"
echo "peers.sh: runs kept in $WORK"
