package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/engine"
	"github.com/shoal-dev/shoal/internal/engine/spec"
)

// validatingBackend runs create requests through the engine's
// validation, nothing else.
type validatingBackend struct {
	ContainerBackend
}

func (validatingBackend) Create(_ context.Context, _ string, req engine.CreateRequest) (string, []string, error) {
	if req.Config == nil {
		return "", nil, invalidf("config cannot be empty in order to create a container")
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if err := spec.ValidateHostConfig(hc, req.Config); err != nil {
		return "", nil, err
	}
	return "0123456789ab", nil, nil
}

// FuzzCreateRequest feeds arbitrary bodies to POST /containers/create,
// decoded and validated as the engine does: the answer is a success or a
// 4xx, never a panic or a 500.
func FuzzCreateRequest(f *testing.F) {
	for _, seed := range []string{
		`{"Image":"bb","Cmd":["true"],"HostConfig":{"NetworkMode":"none","Memory":67108864}}`,
		`{"Image":"bb","HostConfig":{"Binds":["/a:/b:ro"],"CapAdd":["ALL"],"Ulimits":[{"Name":"nofile","Soft":1,"Hard":2}]}}`,
		`{"Image":"bb","HostConfig":{"Sysctls":{"net.ipv4.ip_forward":"1"},"Devices":[{"PathOnHost":"/dev/null"}]}}`,
		`{"Image":"bb","Healthcheck":{"Test":["CMD","true"],"Interval":-1}}`,
		`{"Image":"bb","HostConfig":{"SecurityOpt":["seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}"]}}`,
		`{"Cmd":["sh"],"AttachStdout":true,"Detach":false,"Tty":true}`,
		`null`, `[]`, `{`, `{"Image":5}`,
	} {
		f.Add([]byte(seed))
	}
	h := New(Config{}, nil, nil, WithContainers(validatingBackend{}))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1.50/containers/create", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("create %q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
