# The image `k8sh job` runs a script in (ghcr.io/k8sh/k8sh:VERSION):
#   docker build -t ghcr.io/k8sh/k8sh:dev .
# k8sh alone, static, on distroless as its non-root user (65532): the pod
# `k8sh job` makes runs `k8sh /scripts/NAME.star args...` with the
# in-cluster config of its ServiceAccount.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/k8sh .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/k8sh /usr/local/bin/k8sh
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/k8sh"]
