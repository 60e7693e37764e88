package native

import (
	"context"
	"testing"

	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/testsuite"
)

func TestNative(t *testing.T) {
	testsuite.Run(t, "native", func(ctx context.Context, root string) (snapshot.Snapshotter, func() error, error) {
		sn, err := New(root)
		if err != nil {
			return nil, nil, err
		}
		return sn, sn.Close, nil
	})
}
