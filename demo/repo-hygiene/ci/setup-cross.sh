#!/bin/sh
# Cross-compilation tools for the desktop builds.
set -eu
cargo install --git https://github.com/cross-rs/cross cross
curl -fsSLO https://github.com/upx/upx/releases/download/v4.2.4/upx-4.2.4-amd64_linux.tar.xz
tar xf upx-4.2.4-amd64_linux.tar.xz
