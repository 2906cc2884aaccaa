# Multi-stage build of the healthcare binary.
#   docker build -t healthcare .
# The final image holds one static binary (migrations embedded) and runs as
# a non-root user; `serve` is the default command.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so editing code does not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binary: distroless/static has no libc. -trimpath keeps build paths
# out; VCS stamping needs .git, which .dockerignore leaves out, so the
# version and commit `healthcare version` prints come as build arguments:
#   docker build --build-arg COMMIT=$(git rev-parse HEAD) --build-arg VERSION=$(git describe --always) .
# (docker-compose.yml passes HEALTHCARE_COMMIT and HEALTHCARE_VERSION.)
ARG VERSION=""
ARG COMMIT=""
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.buildVersion=${VERSION} -X main.buildCommit=${COMMIT}" \
      -o /out/healthcare ./cmd/healthcare

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/healthcare /usr/local/bin/healthcare
# nonroot is uid 65532 in distroless images.
USER nonroot:nonroot
ENV HTTP_ADDR=0.0.0.0:8000
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/healthcare"]
CMD ["serve"]
