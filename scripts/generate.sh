#!/usr/bin/env bash
# Generates TypeScript stubs (ts-proto, grpc-js services) and the descriptor set served by reflection.
set -euo pipefail
cd "$(dirname "$0")/.."
npx buf generate
# After generate (buf.gen.yaml cleans gen/): the raw FileDescriptorSet, with comments, for reflection.
npx buf build -o gen/descriptor.binpb
