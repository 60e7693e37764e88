package events

import (
	"strings"

	"github.com/moby/moby/api/types/events"

	"github.com/shoal-dev/shoal/internal/filters"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// acceptedFilters are the filter keys documented for GET /events.
var acceptedFilters = map[string]bool{
	"config":    true,
	"container": true,
	"daemon":    true,
	"event":     true,
	"image":     true,
	"label":     true,
	"network":   true,
	"node":      true,
	"plugin":    true,
	"scope":     true,
	"secret":    true,
	"service":   true,
	"type":      true,
	"volume":    true,
}

// ValidateFilters rejects a filter key not documented for GET /events
// with a *filters.InvalidFilterError ("invalid filter 'KEY'", class
// errdefs.ErrInvalidArgument). dockerd does not check event filter keys:
// it ignores unknown ones.
func ValidateFilters(f filters.Args) error {
	return f.Validate(acceptedFilters)
}

// prefixActions are the event filter values that match any action they
// begin: "exec_start" matches "exec_start: sh -c date" (moby #25798).
var prefixActions = map[string]bool{
	string(events.ActionExecCreate):   true,
	string(events.ActionExecStart):    true,
	string(events.ActionHealthStatus): true,
}

// nameKeys are the filter keys matched against the actor's ID and its
// "name" attribute, each by prefix.
var nameKeys = []events.Type{
	events.DaemonEventType,
	events.ContainerEventType,
	events.PluginEventType,
	events.VolumeEventType,
	events.NetworkEventType,
	events.ServiceEventType,
	events.NodeEventType,
	events.SecretEventType,
	events.ConfigEventType,
}

// Match reports whether m passes every filter in f, as dockerd decides:
//
//   - type: the message type equals a value.
//   - event: the action equals a value. If any value is "exec_create",
//     "exec_start" or "health_status", every value matches as a prefix
//     instead, so "exec_start" matches "exec_start: sh".
//   - scope: the scope equals a value ("local" for this engine).
//   - container, daemon, network, volume, plugin, node, service, secret,
//     config: the actor's ID or its "name" attribute equals or starts
//     with a value. The key does not restrict the message type: a
//     container filter drops an image message only because the image ID
//     does not start with the value. Shoal publishes no service, secret,
//     config or node messages, but, as in dockerd, a value of those keys
//     still matches other messages whose ID or name starts with it.
//   - image: a value equals the actor's ID, or its image reference (the
//     "name" attribute of image messages, the "image" attribute of
//     others), or either of those with tag and digest stripped and in the
//     familiar form: "busybox" matches "docker.io/library/busybox:1.36".
//     Values are compared as given, not normalised.
//   - label: every value holds on the actor's attributes, "k" by presence
//     and "k=v" by equality (filters.Args.MatchKVList).
//
// Keys Match does not know are ignored, as in dockerd.
func Match(f filters.Args, m events.Message) bool {
	if f.Len() == 0 {
		return true
	}
	if !matchAction(f, string(m.Action)) ||
		!f.ExactMatch("type", string(m.Type)) ||
		!f.ExactMatch("scope", m.Scope) {
		return false
	}
	name := m.Actor.Attributes["name"]
	for _, key := range nameKeys {
		if !f.FuzzyMatch(string(key), m.Actor.ID) && !f.FuzzyMatch(string(key), name) {
			return false
		}
	}
	return matchImage(f, m) && f.MatchKVList("label", m.Actor.Attributes)
}

func matchAction(f filters.Args, action string) bool {
	for _, v := range f.Get("event") {
		if prefixActions[v] {
			return f.FuzzyMatch("event", action)
		}
	}
	return f.ExactMatch("event", action)
}

func matchImage(f filters.Args, m events.Message) bool {
	attr := "image"
	if m.Type == events.ImageEventType {
		attr = "name"
	}
	image := m.Actor.Attributes[attr]
	return f.ExactMatch("image", m.Actor.ID) ||
		f.ExactMatch("image", image) ||
		f.ExactMatch("image", familiarName(m.Actor.ID)) ||
		f.ExactMatch("image", familiarName(image))
}

// familiarName is s as a familiar repository name without tag or digest
// ("docker.io/library/busybox:latest" becomes "busybox"), or s itself if
// it is not a reference.
func familiarName(s string) string {
	r, err := ref.Parse(s)
	if err != nil {
		return s
	}
	name := r.Familiar()
	if d := r.Digest(); d != "" {
		name = strings.TrimSuffix(name, "@"+d.String())
	}
	if t := r.Tag(); t != "" {
		name = strings.TrimSuffix(name, ":"+t)
	}
	return name
}
