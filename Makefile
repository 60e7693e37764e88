## build: build bin/shoal
build:
	scripts/build bin/shoal

## test: unit tests (no root needed)
test:
	go test ./...

## test-root: unit, kernel and integration tests as root
test-root:
	./scripts/test

## fuzz: run each fuzzer briefly
fuzz:
	go test -run=NONE -fuzz=FuzzCompile -fuzztime=30s ./internal/runtime/seccomp/
	go test -run=NONE -fuzz=FuzzParseSpec -fuzztime=30s ./internal/runtime/
	go test -run=NONE -fuzz=FuzzWriterRef -fuzztime=30s ./internal/content/
	go test -run=NONE -fuzz=FuzzDigest -fuzztime=30s ./internal/content/
	go test -run=NONE -fuzz=FuzzApply -fuzztime=60s -fuzzminimizetime=2s ./internal/archive/
	go test -run=NONE -fuzz=FuzzParse -fuzztime=30s ./internal/mountinfo/

## lint: vet and format check
lint:
	go vet -tags integration ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

## help: list targets
help:
	@grep -h '^##' $(MAKEFILE_LIST) | sed 's/^## //'

.PHONY: build test test-root fuzz lint help
