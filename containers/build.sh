#!/usr/bin/env bash
# Build the pipeline's three container images with the tags nextflow.config gives them
# (params.container_cpu, container_gpu and container_spatialdata), from the repository root.
#   containers/build.sh            build the three images
#   containers/build.sh --push     build, then push them (CI does this on a version tag)
#   containers/build.sh --sif      build, then convert them to Apptainer images (NAME-VERSION.sif here)
#   containers/build.sh --dry-run  print the exact commands, run nothing
#   containers/build.sh --cuda 12  the GPU image with a CUDA 12 torch wheel, for NVIDIA drivers older than 580
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
push=0
sif=0
cuda=13
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --push) push=1 ;;
        --sif) sif=1 ;;
        --cuda) cuda=${2:-}; shift ;;
        -h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "containers/build.sh: unknown option '$1' (use --dry-run, --push, --sif, --cuda 12 or --help)" >&2; exit 2 ;;
    esac
    shift
done
# The GPU image's torch wheel and the driver it needs (containers/gpu/Dockerfile): PyPI's is a CUDA 13 build.
case "$cuda" in
    13) gpu_args=() ;;
    12) gpu_args=(--build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 --build-arg NVIDIA_DRIVER_MIN=525.60.13) ;;
    *) echo "containers/build.sh: --cuda takes 12 or 13, not '$cuda'" >&2; exit 2 ;;
esac

# The default of a string parameter in nextflow.config: `  name = 'value'`.
param() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" nextflow.config; }
cpu_tag=$(param container_cpu)
gpu_tag=$(param container_gpu)
sdata_tag=$(param container_spatialdata)
if [ -z "$cpu_tag" ] || [ -z "$gpu_tag" ] || [ -z "$sdata_tag" ]; then
    echo "containers/build.sh: nextflow.config names no container_cpu/container_gpu/container_spatialdata image; set the three params" >&2
    exit 1
fi

run() {
    printf '%q ' "$@"
    printf '\n'
    if [ "$dry_run" = 0 ]; then
        "$@"
    fi
}

run docker build --file containers/cpu/Dockerfile --tag "$cpu_tag" .
run docker build --file containers/gpu/Dockerfile ${gpu_args[@]+"${gpu_args[@]}"} --tag "$gpu_tag" .  # empty arrays: bash 3.2 with set -u
run docker build --file containers/spatialdata/Dockerfile --tag "$sdata_tag" .
if [ "$push" = 1 ]; then
    run docker push "$cpu_tag"
    run docker push "$gpu_tag"
    run docker push "$sdata_tag"
fi
if [ "$sif" = 1 ]; then  # all: a CPU task in an Apptainer run needs the CPU image as much as a GPU task the other
    sif_name() { local name=${1##*/}; echo "${name/:/-}.sif"; }  # ghcr.io/o/pixel2gene-cpu:0.2.0 -> pixel2gene-cpu-0.2.0.sif
    run apptainer build "$(sif_name "$cpu_tag")" "docker-daemon://$cpu_tag"
    run apptainer build "$(sif_name "$gpu_tag")" "docker-daemon://$gpu_tag"
    run apptainer build "$(sif_name "$sdata_tag")" "docker-daemon://$sdata_tag"
    echo "then: nextflow run . -profile apptainer --container_cpu $PWD/$(sif_name "$cpu_tag") --container_gpu $PWD/$(sif_name "$gpu_tag") --container_spatialdata $PWD/$(sif_name "$sdata_tag") ..." >&2
fi
