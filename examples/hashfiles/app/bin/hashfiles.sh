#!/bin/sh
# hashfiles.sh <file>... : prints the SHA-256 of each file, one `<hex>  <file>` line each, as
# sha256sum does. The example consumer's application (examples/hashfiles): a task runs it as
#   /bin/sh -c '"$AZ_BATCH_APP_PACKAGE_hashfiles/bin/hashfiles.sh" input/*'
# Exit codes: sha256sum's own, or 2 (usage).
set -eu

if [ "$#" -lt 1 ]; then
  echo "usage: hashfiles.sh <file>..." >&2
  exit 2
fi
exec sha256sum -- "$@"
