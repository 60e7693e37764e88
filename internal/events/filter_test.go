package events

import (
	"testing"

	"github.com/moby/moby/api/types/events"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/filters"
)

const (
	ctrID = "4f1c2a7e0b9d8c6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a21"
	imgID = "sha256:8135583d97feb82398909c9c97607159e6db2c4ca2c885c0b8f590ee0f9fe90d"
)

func containerMsg(action events.Action, attrs map[string]string) events.Message {
	a := map[string]string{"name": "web-1", "image": "docker.io/library/busybox:1.36"}
	for k, v := range attrs {
		a[k] = v
	}
	return events.Message{Type: events.ContainerEventType, Action: action, Scope: "local",
		Actor: events.Actor{ID: ctrID, Attributes: a}}
}

func args(kv ...string) filters.Args {
	var pairs []filters.KeyValue
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, filters.Arg(kv[i], kv[i+1]))
	}
	return filters.NewArgs(pairs...)
}

func TestMatch(t *testing.T) {
	t.Parallel()
	start := containerMsg(events.ActionStart, map[string]string{"com.example.app": "shop", "tier": ""})
	execStart := containerMsg("exec_start: sh -c date", nil)
	health := containerMsg(events.ActionHealthStatusHealthy, nil)
	image := events.Message{Type: events.ImageEventType, Action: events.ActionPull, Scope: "local",
		Actor: events.Actor{ID: imgID, Attributes: map[string]string{"name": "busybox:latest"}}}
	imageByRef := events.Message{Type: events.ImageEventType, Action: events.ActionTag, Scope: "local",
		Actor: events.Actor{ID: "ghcr.io/acme/app:v1", Attributes: map[string]string{"name": "ghcr.io/acme/app:v1"}}}
	volume := events.Message{Type: events.VolumeEventType, Action: events.ActionCreate, Scope: "local",
		Actor: events.Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	network := events.Message{Type: events.NetworkEventType, Action: events.ActionConnect, Scope: "local",
		Actor: events.Actor{ID: "9a8b7c6d5e4f", Attributes: map[string]string{"name": "bridge", "container": ctrID}}}
	daemon := events.Message{Type: events.DaemonEventType, Action: events.ActionReload, Scope: "local",
		Actor: events.Actor{ID: "ABCD:EFGH", Attributes: map[string]string{"name": "host1"}}}
	plugin := events.Message{Type: events.PluginEventType, Action: events.ActionEnable, Scope: "local",
		Actor: events.Actor{ID: "p1d", Attributes: map[string]string{"name": "vieux/sshfs:latest"}}}
	swarmScoped := volume
	swarmScoped.Scope = "swarm"

	tests := []struct {
		name string
		f    filters.Args
		m    events.Message
		want bool
	}{
		{"no filter", filters.NewArgs(), start, true},
		{"unknown key ignored", args("bogus", "x"), start, true},

		{"type equal", args("type", "container"), start, true},
		{"type other", args("type", "image"), start, false},
		{"type one of", args("type", "image", "type", "container"), start, true},
		{"type prefix is not enough", args("type", "cont"), start, false},

		{"event equal", args("event", "start"), start, true},
		{"event other", args("event", "stop"), start, false},
		{"event prefix not allowed", args("event", "sta"), start, false},
		{"event exec_start prefix", args("event", "exec_start"), execStart, true},
		{"event exec_start full", args("event", "exec_start: sh -c date"), execStart, true},
		{"event exec_create not exec_start", args("event", "exec_create"), execStart, false},
		{"event health_status prefix", args("event", "health_status"), health, true},
		{"event prefix mode applies to all values", args("event", "exec_start", "event", "sta"), start, true},

		{"scope local", args("scope", "local"), start, true},
		{"scope swarm", args("scope", "swarm"), start, false},
		{"scope swarm message", args("scope", "swarm"), swarmScoped, true},

		{"container full id", args("container", ctrID), start, true},
		{"container short id", args("container", ctrID[:12]), start, true},
		{"container name", args("container", "web-1"), start, true},
		{"container name prefix", args("container", "web"), start, true},
		{"container other", args("container", "db"), start, false},
		{"container filter drops image event", args("container", "web-1"), image, false},
		{"container filter drops volume event", args("container", "web-1"), volume, false},
		{"container filter and type", args("container", "web-1", "type", "container"), start, true},

		{"image full ref", args("image", "docker.io/library/busybox:1.36"), start, true},
		{"image familiar name", args("image", "busybox"), start, true},
		{"image familiar with other tag", args("image", "busybox:latest"), start, false},
		{"image other", args("image", "alpine"), start, false},
		{"image event by id", args("image", imgID), image, true},
		{"image event by name", args("image", "busybox:latest"), image, true},
		{"image event by stripped name", args("image", "busybox"), image, true},
		{"image event id as ref", args("image", "ghcr.io/acme/app"), imageByRef, true},
		{"image event other", args("image", "alpine"), image, false},
		{"image filter on volume", args("image", "busybox"), volume, false},

		{"label present", args("label", "com.example.app"), start, true},
		{"label equal", args("label", "com.example.app=shop"), start, true},
		{"label empty value", args("label", "tier="), start, true},
		{"label mismatch", args("label", "com.example.app=blog"), start, false},
		{"label absent", args("label", "missing"), start, false},
		{"label all must hold", args("label", "com.example.app=shop", "label", "missing"), start, false},
		{"label name attribute", args("label", "name=web-1"), start, true},

		{"volume name", args("volume", "data"), volume, true},
		{"volume prefix", args("volume", "da"), volume, true},
		{"volume other", args("volume", "logs"), volume, false},
		{"network name", args("network", "bridge"), network, true},
		{"network id prefix", args("network", "9a8b"), network, true},
		{"network other", args("network", "host"), network, false},
		{"daemon id", args("daemon", "ABCD:EFGH"), daemon, true},
		{"daemon name", args("daemon", "host1"), daemon, true},
		{"daemon other", args("daemon", "host2"), daemon, false},
		{"plugin name", args("plugin", "vieux/sshfs"), plugin, true},
		{"plugin other", args("plugin", "x"), plugin, false},

		{"node no such events", args("node", "n1"), start, false},
		{"service no such events", args("service", "api"), start, false},
		{"secret no such events", args("secret", "s"), start, false},
		{"config no such events", args("config", "c"), start, false},
		{"service prefix of a name, as dockerd", args("service", "web"), start, true},

		{"all keys hold", args("type", "container", "event", "start", "container", "web-1",
			"image", "busybox", "label", "tier", "scope", "local"), start, true},
		{"one key fails", args("type", "container", "event", "start", "container", "web-1",
			"image", "alpine"), start, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Match(tc.f, tc.m); got != tc.want {
				js, _ := tc.f.ToJSON()
				t.Errorf("Match(%s, %s %s %s) = %v, want %v", js, tc.m.Type, tc.m.Action, tc.m.Actor.ID, got, tc.want)
			}
		})
	}
}

func TestValidateFilters(t *testing.T) {
	t.Parallel()
	ok := args("type", "container", "event", "start", "container", "x", "image", "x", "label", "a",
		"volume", "v", "network", "n", "daemon", "d", "scope", "local", "node", "n", "plugin", "p",
		"config", "c", "secret", "s", "service", "s")
	if err := ValidateFilters(ok); err != nil {
		t.Errorf("ValidateFilters(all documented keys) = %v, want nil", err)
	}
	err := ValidateFilters(args("type", "container", "status", "running"))
	if err == nil || err.Error() != "invalid filter 'status'" || !errdefs.IsInvalidArgument(err) {
		t.Errorf("ValidateFilters(status) = %v, want invalid filter 'status' (InvalidArgument)", err)
	}
}

func TestFamiliarName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"busybox":                          "busybox",
		"busybox:1.36":                     "busybox",
		"docker.io/library/busybox:latest": "busybox",
		"user/app:v1":                      "user/app",
		"localhost:5000/x/y:1":             "localhost:5000/x/y",
		"ghcr.io/o/r@" + imgID:             "ghcr.io/o/r",
		"ghcr.io/o/r:t@" + imgID:           "ghcr.io/o/r",
		ctrID:                              ctrID, // a bare ID is not a reference
		"Not A Ref":                        "Not A Ref",
	} {
		if got := familiarName(in); got != want {
			t.Errorf("familiarName(%q) = %q, want %q", in, got, want)
		}
	}
}
