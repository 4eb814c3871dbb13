# buildledger: one static binary; configuration comes from the environment (see README).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/buildledger ./cmd/buildledger

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/buildledger /buildledger
ENTRYPOINT ["/buildledger"]
CMD ["run"]
