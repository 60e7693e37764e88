package api

import (
	"encoding/json"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// parseChanges reads `docker import --change` / `docker commit --change`
// values: the Dockerfile instructions that set runtime configuration.
func parseChanges(changes []string, cfg *ocispec.ImageConfig) error {
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		if ch == "" {
			continue
		}
		kw, rest, _ := strings.Cut(ch, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(kw) {
		case "CMD":
			cfg.Cmd = commandForm(rest)
		case "ENTRYPOINT":
			cfg.Entrypoint = commandForm(rest)
		case "ENV":
			kvs, err := keyValues(rest, "ENV")
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				k, _, _ := strings.Cut(kv, "=")
				replaced := false
				for i, old := range cfg.Env {
					if ok, _, _ := strings.Cut(old, "="); ok == k {
						cfg.Env[i], replaced = kv, true
					}
				}
				if !replaced {
					cfg.Env = append(cfg.Env, kv)
				}
			}
		case "LABEL":
			kvs, err := keyValues(rest, "LABEL")
			if err != nil {
				return err
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				k, v, _ := strings.Cut(kv, "=")
				cfg.Labels[k] = v
			}
		case "EXPOSE":
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				cfg.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			var vols []string
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				vols = strings.Fields(rest)
			}
			for _, v := range vols {
				cfg.Volumes[v] = struct{}{}
			}
		case "USER":
			cfg.User = rest
		case "WORKDIR":
			cfg.WorkingDir = rest
		case "STOPSIGNAL":
			cfg.StopSignal = rest
		default:
			return invalidf("%s is not a valid change command", kw)
		}
	}
	return nil
}

// commandForm is the exec form (a JSON array) or the shell form.
func commandForm(s string) []string {
	var args []string
	if err := json.Unmarshal([]byte(s), &args); err == nil {
		return args
	}
	return []string{"/bin/sh", "-c", s}
}

// keyValues reads "k=v k2=v2" (values may be double-quoted) or the old
// "k v" form.
func keyValues(s, kw string) ([]string, error) {
	if !strings.Contains(strings.SplitN(s, " ", 2)[0], "=") {
		k, v, ok := strings.Cut(s, " ")
		if !ok {
			return nil, invalidf("%s must have two arguments", kw)
		}
		return []string{k + "=" + strings.TrimSpace(v)}, nil
	}
	var out []string
	var cur strings.Builder
	quote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ' ' && !quote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if quote {
		return nil, invalidf("%s: unterminated quote in %q", kw, s)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	for _, kv := range out {
		if !strings.Contains(kv, "=") {
			return nil, invalidf("%s names can not be blank: %q has no '='", kw, kv)
		}
	}
	return out, nil
}
