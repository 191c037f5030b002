# Build the manager binary. Without Docker, `make image` builds the same image
# (same binary flags, entrypoint and user) from scratch; internal/imagebuild's
# tests check that this file keeps the same entrypoint and user.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Cache dependencies before copying the sources, so a source change does not re-download them.
COPY go.mod go.sum ./
RUN go mod download

COPY cmd/ cmd/
COPY api/ api/
COPY controllers/ controllers/
COPY finders/ finders/
COPY internal/ internal/

# A static binary: CGO_ENABLED=0 so it runs on distroless/static.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o manager ./cmd/manager

# distroless/static has CA certificates and nothing else; nonroot is uid 65532.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
