# Sourced by the bench scripts: print when, on which commit and on which machine their numbers were measured.
# Usage: source bench/provenance.sh; provenance REPO
provenance() {
    local repo=$1 gpu
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo +changes)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)${gpu:+, $gpu}"
}
