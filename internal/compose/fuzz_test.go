package compose

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad loads arbitrary compose files: Load and the conversion of
// every service to a create request must fail cleanly, never panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(appYAML))
	f.Add([]byte("services:\n  a:\n    image: x\n    depends_on: [a]\n"))
	f.Add([]byte("services:\n  web:\n    image: x\n    ports: [\"8080-8081:80-81/udp\"]\n    expose: [\"9000-9002\"]\n"))
	f.Add([]byte("services:\n  web:\n    build: .\n    volumes: [\"v:/v\", \"/h:/c:ro\", {type: tmpfs, target: /t}]\nvolumes:\n  v: {}\n"))
	f.Add([]byte("services:\n  a:\n    image: x\n    network_mode: service:b\n  b:\n    image: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "fz")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
		if err != nil {
			return
		}
		for _, name := range p.ServiceNames() {
			s := p.Services[name]
			if _, err := ServiceHash(s); err != nil {
				t.Errorf("ServiceHash(%s): %v", name, err)
			}
			_, _ = createRequest(p, s, createSpec{number: 1, name: ContainerName(p.Name, s, 1), serviceAlias: true})
		}
	})
}
