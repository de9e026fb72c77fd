#!/usr/bin/env bash
# Installs Debian's DejaVu fonts, which the PDF reports embed to print any character (a
# deployment requirement too: see the README), if missing.
set -euo pipefail
dir=/usr/share/fonts/truetype/dejavu
if [ -f "$dir/DejaVuSans.ttf" ] && [ -f "$dir/DejaVuSans-Bold.ttf" ] && [ -f "$dir/DejaVuSans-Oblique.ttf" ]; then
  echo "fonts: DejaVu Sans present" >&2
  exit 0
fi
echo "fonts: installing Debian's fonts-dejavu-core" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends fonts-dejavu-core >&2
