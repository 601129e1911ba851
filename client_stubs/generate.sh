#!/usr/bin/env bash
# Regenerates the Python stubs in client_stubs/python/conversions/ from
# proto/conversions/v1/, with Debian 12's protoc (protobuf-compiler) and gRPC
# Python plugin (protobuf-compiler-grpc) only.
#
#   bash client_stubs/generate.sh           # rewrite the committed stubs
#   bash client_stubs/generate.sh --check   # exit 1 if they are out of date
#
# The stubs are committed so that a service can copy them without protoc;
# --check (a ctest test) keeps them in step with the protos. Node needs no
# generation: @grpc/proto-loader reads the .proto files at run time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
proto_root="$here/../proto"
out="$here/python"
PROTOC=${PROTOC:-/usr/bin/protoc}
GRPC_PYTHON_PLUGIN=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

for tool in "$PROTOC" "$GRPC_PYTHON_PLUGIN"; do
  if [ ! -x "$tool" ]; then
    echo "generate: $tool not found (apt-get install protobuf-compiler" \
      "protobuf-compiler-grpc)" >&2
    exit 2
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Messages (and type hints) for every file; the gRPC stub only for the file
# that declares the service, so there is no empty event_pb2_grpc.py.
(cd "$proto_root" &&
  "$PROTOC" --proto_path=. --python_out="$tmp" --pyi_out="$tmp" \
    conversions/v1/event.proto conversions/v1/conversion_service.proto &&
  "$PROTOC" --proto_path=. --grpc_python_out="$tmp" \
    --plugin=protoc-gen-grpc_python="$GRPC_PYTHON_PLUGIN" \
    conversions/v1/conversion_service.proto)

if [ "$check" = 1 ]; then
  if ! diff -ru "$tmp/conversions" "$out/conversions"; then
    echo "generate: client_stubs/python/conversions is out of date with" \
      "proto/; run bash client_stubs/generate.sh and commit the result" >&2
    exit 1
  fi
  echo "generate: the Python stubs match proto/"
  exit 0
fi

rm -rf "$out/conversions"
mkdir -p "$out"
cp -r "$tmp/conversions" "$out/conversions"
echo "generate: wrote $(cd "$out" && find conversions -type f | sort | tr '\n' ' ')"
