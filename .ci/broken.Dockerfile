# hadolint must flag this file (.ci/run checks it): an unpinned `latest` base image (DL3007)
# and apt-get install without pinned versions or --no-install-recommends (DL3008, DL3015).
FROM debian:latest
RUN apt-get update && apt-get install -y curl
