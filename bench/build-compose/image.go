package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/rootfs"
)

// Names the benchmark gives things in every engine.
const (
	baseImage  = "shoal-bench/busybox:latest" // loaded from the archive
	builtImage = "shoal-bench/built:latest"   // what the build phases tag
	project    = "benchapp"                   // the compose project
)

// dockerfile is the build phases' Dockerfile: two stages, the first
// writing a file the second copies.
const dockerfile = `ARG BASE=` + baseImage + `
FROM ${BASE} AS build
ARG GREETING=hello
ENV MSG="${GREETING} from the build stage"
WORKDIR /src
COPY app/ ./app/
RUN echo "$MSG" > out.txt && cat app/data.txt >> out.txt && ls app >> out.txt

FROM ${BASE}
LABEL org.example.bench=build-compose
WORKDIR /app
COPY --from=build /src/out.txt ./
USER nobody
CMD ["sh", "-c", "cat /app/out.txt; id -u; pwd"]
`

// cachedSteps is how many steps of dockerfile a rebuild takes from the
// cache: all but the ARG before the first FROM and the two FROMs.
const cachedSteps = 10

// builtOutput is what `docker run --rm IMAGE` of the built image prints.
const builtOutput = "hello from the build stage\ndata v1\ndata.txt\nsub\n65534\n/app\n"

// contextFiles is the build context, next to the Dockerfile.
var contextFiles = map[string]string{
	"app/data.txt":    "data v1\n",
	"app/sub/keep.go": "package keep\n",
}

// Compose app: httpServices serve a directory, sleepServices sleep; the
// health service serves a page and is healthy once it answers; the
// dependent service starts once health is healthy. Every service is on
// the project's default network and runs under an init, which stops it
// on SIGTERM.
var (
	httpServices  = []string{"web1", "web2", "web3"}
	sleepServices = []string{"worker1", "worker2", "worker3", "worker4", "worker5"}
)

const (
	healthService    = "db"
	dependentService = "api"
	services         = 10
)

// composeFile is the ten-service app (see above) with the health check
// run every interval.
func composeFile(interval time.Duration) string {
	var b strings.Builder
	b.WriteString("services:\n")
	svc := func(name, command string) {
		fmt.Fprintf(&b, "  %s:\n    image: %s\n    init: true\n    command: %s\n", name, baseImage, command)
	}
	for _, s := range httpServices {
		svc(s, `["httpd", "-f", "-p", "80", "-h", "/etc"]`)
	}
	svc(healthService, `["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]`)
	fmt.Fprintf(&b, "    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1/\"]\n"+
		"      interval: %dms\n      timeout: 3s\n      retries: 30\n", interval.Milliseconds())
	svc(dependentService, `["sleep", "1000000"]`)
	fmt.Fprintf(&b, "    depends_on:\n      %s:\n        condition: service_healthy\n", healthService)
	for _, s := range sleepServices {
		svc(s, `["sleep", "1000000"]`)
	}
	return b.String()
}

// makeInputs writes the base image's archive, the build context and the
// compose project directory into the temp dir.
func (b *bench) makeInputs() error {
	root := filepath.Join(b.tmp, "rootfs")
	if err := rootfs.Build(root, nil, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}); err != nil {
		return err
	}
	b.imageTar = filepath.Join(b.tmp, "base-image.tar")
	id, err := rootfs.ImageArchive(root, b.imageTar, baseImage, "bench/build-compose: busybox-static")
	if err != nil {
		return fmt.Errorf("write the image archive: %w", err)
	}
	b.imageID = id

	b.ctxDir = filepath.Join(b.tmp, "build-context")
	files := map[string]string{"Dockerfile": dockerfile}
	for k, v := range contextFiles {
		files[k] = v
	}
	for k, v := range files {
		if err := writeFile(filepath.Join(b.ctxDir, k), v); err != nil {
			return err
		}
	}
	b.composeDir = filepath.Join(b.tmp, project)
	return writeFile(filepath.Join(b.composeDir, "docker-compose.yml"), composeFile(b.o.healthInterval))
}

func writeFile(p, s string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(s), 0o644)
}
