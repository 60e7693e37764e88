package api

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// TestDecodeBodyLegacy: the legacy fields old clients send are dropped
// at the top level and in HostConfig only; an endpoint's MacAddress (a
// current field) survives even when the body also carries a legacy one.
func TestDecodeBodyLegacy(t *testing.T) {
	body := `{"Image":"bb","MacAddress":"02:42:ac:11:00:09","HostConfig":{"KernelMemory":1},
		"NetworkingConfig":{"EndpointsConfig":{"n1":{"MacAddress":"02:42:ac:11:00:02"}}}}`
	r := httptest.NewRequest("POST", "/containers/create", bytes.NewBufferString(body))
	var req container.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		t.Fatal(err)
	}
	ep := req.NetworkingConfig.EndpointsConfig["n1"]
	if ep == nil || ep.MacAddress.String() != "02:42:ac:11:00:02" {
		t.Errorf("endpoint MacAddress lost: %+v", ep)
	}
	// Any other unknown field is still an error.
	r = httptest.NewRequest("POST", "/containers/create", bytes.NewBufferString(`{"Image":"bb","Bogus":1}`))
	if err := decodeBody(r, &req); err == nil {
		t.Errorf("an unknown field was accepted")
	}
}
