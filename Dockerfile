# Firebreak: one static binary on a distroless base.
#
#   docker build -t firebreak .
#   docker run --rm -p 127.0.0.1:8080:8080 firebreak   # playground: demo roster, in-memory Redis
#
# deploy/docker-compose.yml runs it with Redis and a mounted roster.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so editing the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo) for the distroless base; timetzdata embeds the timezone
# database, so the roster's timezone (Asia/Shanghai) loads on any base image.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags="-s -w" -o /out/firebreak ./cmd/firebreak

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/firebreak /firebreak
ENV FIREBREAK_HTTP_ADDR=:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/firebreak"]
CMD ["serve"]
