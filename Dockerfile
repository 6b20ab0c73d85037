# syntax=docker/dockerfile:1
# pbxsim in a container: a release build in the Rust image, shipped in a small runtime image.
#
#   docker build -t pbxsim:0.1.0 .
#   docker run --rm pbxsim:0.1.0 run scenarios/quickstart.toml
#   docker run --rm -e PBXSIM_TOKEN pbxsim:0.1.0 load --target https://hooks.example.com/pbx --rate 20/s --duration 1m
#
# The image runs as a non-root user with `pbxsim` as its entrypoint, in /app, which holds the
# shipped scenarios (/app/scenarios) and their schema. examples/kubernetes/ runs it as an Indexed Job.
#
# This machine has no Docker engine, so this file has not been built here: CI lints it with
# hadolint (.ci/run) and nothing more. Keep it correct by hand: the build stage's Debian release
# must match the runtime image's (bookworm for both), or the binary asks for a newer glibc.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so a change to src/ does not rebuild them: a dummy crate with the real
# manifest and lock file.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/engine.rs \
    && cargo build --release --locked --bin pbxsim \
    && rm -rf src benches
COPY . .
# No .git in the context (.dockerignore), so `pbxsim --version` is the bare package version;
# PBXSIM_BUILD_NO_GIT makes that explicit. touch: the dummy build's output is older than src/.
RUN touch src/main.rs src/lib.rs \
    && PBXSIM_BUILD_NO_GIT=1 cargo build --release --locked --bin pbxsim \
    && /src/target/release/pbxsim --version

# distroless/cc: glibc, libgcc and CA certificates (for https targets, read by rustls'
# platform verifier), no shell, no package manager; the `nonroot` tag runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/pbxsim /usr/local/bin/pbxsim
COPY --from=build /src/scenarios /app/scenarios
COPY --from=build /src/schema /app/schema
WORKDIR /app
# 65532 is distroless's `nonroot`; numeric, so the runtime can check it is not root. /app is
# read-only to it: write --report files to a mounted volume (examples/kubernetes mounts /reports).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/pbxsim"]
CMD ["--help"]
