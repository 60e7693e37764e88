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
	go test -run=NONE -fuzz=FuzzCreateRequest -fuzztime=20000x ./internal/api/
	go test -run=NONE -fuzz=FuzzRead -fuzztime=20000x ./internal/logfile/
	go test -run=NONE -fuzz=FuzzRecord -fuzztime=20000x ./internal/logfile/
	go test -run=NONE -fuzz=FuzzFromJSON -fuzztime=20000x ./internal/filters/
	go test -run=NONE -fuzz=FuzzValidateName -fuzztime=20000x ./internal/volume/
	go test -run=NONE -fuzz=FuzzExtract -fuzztime=20000x ./internal/containerfs/

## lint: vet and format check
lint:
	go vet -tags integration ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

## help: list targets
help:
	@grep -h '^##' $(MAKEFILE_LIST) | sed 's/^## //'

.PHONY: build test test-root fuzz lint help
