#!/usr/bin/env bash
# Builds the environment Codabench challenges name `codalab/codalab-legacy:py37` as a root filesystem directory,
# for an evaluator's `--environment codalab/codalab-legacy:py37=DIR` (run under runc by ContainerRunner).
#
#   deploy/images/build-python-legacy.sh DIR
#
# What it holds: Debian 12 (bookworm) with its Python 3.11, and from PyPI the last releases whose programs still
# run old CodaLab scoring programs: numpy 1.23.5 (numpy 1.24 removed `np.float`, which they use), scipy 1.10.1 and
# scikit-learn 1.2.2 (with joblib 1.2.0 and threadpoolctl 3.1.0 of their time) and pandas 1.5.3, all as cp311 wheels. `python` is
# `python3`; PyYAML and psutil are Debian's (CodaLab programs import them; PyYAML 6 no longer takes `yaml.load`
# without a loader, which old programs catch). Codabench's mount points are there (/app/program, /app/input/ref and
# res, /app/input_data, /app/ingested_program, /app/output, /app/shared):
# a run may only mount on paths the image holds.
#
# Network: Debian's archive (mmdebstrap) and PyPI (pip, inside the new root) only. Needs root and mmdebstrap.
# Idempotent: a DIR holding .pumasi-image-complete is left as it is. The build goes to DIR.building and is moved
# to DIR only once complete, so an interrupted build leaves no half image at DIR.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 64
fi
dir=$(realpath -m "$1")
marker="$dir/.pumasi-image-complete"
packages="numpy==1.23.5 scipy==1.10.1 scikit-learn==1.2.2 joblib==1.2.0 threadpoolctl==3.1.0 pandas==1.5.3"

if [ -e "$marker" ]; then
    echo "$dir is already built ($(cat "$marker")); nothing to do"
    exit 0
fi
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    echo "error: $dir exists, is not empty and is not a finished image; remove it first" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: building the image needs root (mmdebstrap makes device nodes and chroots)" >&2
    exit 1
fi
command -v mmdebstrap >/dev/null || { echo "error: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

work="$dir.building"
mkdir -p "$(dirname "$dir")"
# An interrupted build may have left file systems mounted inside: do not cross into them.
rm -rf --one-file-system "$work"
started=$(date +%s)
echo "building $dir (in $work): Debian bookworm with python3, then $packages from PyPI"
# The customize hooks run with /proc, /dev and the host's resolv.conf in place in the new root. pip downloads with
# the host's CA bundle (where TLS to PyPI goes through a proxy, the host trusts it and the new root does not),
# which is removed again; the CA variables are set to it because requests prefers REQUESTS_CA_BUNDLE to --cert, and
# the host's pip options (find-links and the like) are not passed on.
host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
ca=/tmp/pumasi-host-ca.crt
mmdebstrap --variant=apt --include=python3,python3-pip,python-is-python3,python3-yaml,python3-psutil,ca-certificates \
    --customize-hook="cp '$host_ca' \"\$1$ca\"" \
    --customize-hook="chroot \"\$1\" env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
        REQUESTS_CA_BUNDLE=$ca SSL_CERT_FILE=$ca PIP_CERT=$ca python3 -m pip install --no-cache-dir \
        --break-system-packages --only-binary=:all: $packages" \
    --customize-hook="rm -f \"\$1$ca\"" \
    --customize-hook='mkdir -p "$1/app/program" "$1/app/ingested_program" "$1/app/input/ref" "$1/app/input/res" \
        "$1/app/input_data" "$1/app/output" "$1/app/shared"' \
    bookworm "$work"

echo "checking the image: numpy and np.float, scikit-learn"
chroot "$work" python3 -c 'import numpy, scipy, sklearn; print("numpy", numpy.__version__, "float", numpy.float,
    "scipy", scipy.__version__, "scikit-learn", sklearn.__version__)'

echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with $packages" >"$work/.pumasi-image-complete"
[ -d "$dir" ] && rmdir "$dir"
mv "$work" "$dir"
echo "done in $(($(date +%s) - started)) s: $dir, $(du -sh "$dir" | cut -f1)"
