#!/bin/sh
# transcode.sh <input> <output> [ffmpeg options...]
#
# Task wrapper shipped in the hpc-batch application package. Runs the ffmpeg that sits beside
# this script (so it works wherever Batch unpacks the package) as:
#   ffmpeg -hide_banner -nostdin -y -i <input> [ffmpeg options...] <output>
# e.g. in a task command line:
#   /bin/sh -c '"$AZ_BATCH_APP_PACKAGE_ffmpeg_1_0_0/bin/transcode.sh" in.mkv out.mp4 -c:v libx264'
# Exit codes: ffmpeg's own, or 2 (usage), 66 (input unreadable), 127 (ffmpeg missing).
set -eu

if [ "$#" -lt 2 ]; then
  echo "usage: transcode.sh <input> <output> [ffmpeg options...]" >&2
  exit 2
fi
input=$1
output=$2
shift 2

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
ffmpeg=$here/ffmpeg
if [ ! -x "$ffmpeg" ]; then
  echo "transcode.sh: $ffmpeg is missing or not executable (run 'hpc-batch stage' before packaging)" >&2
  exit 127
fi
case $input in
  *://*) ;; # a URL: ffmpeg reads it itself
  *)
    if [ ! -r "$input" ]; then
      echo "transcode.sh: cannot read input $input" >&2
      exit 66
    fi
    ;;
esac
outdir=$(dirname -- "$output")
mkdir -p -- "$outdir"

# -nostdin: a task has no terminal; -y: a retried task overwrites its earlier output.
exec "$ffmpeg" -hide_banner -nostdin -y -i "$input" "$@" "$output"
