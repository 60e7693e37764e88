package containerfs

import "github.com/shoal-dev/shoal/internal/archive"

// ExtractOpt configures Extract.
type ExtractOpt func(*extractOptions)

type extractOptions struct {
	user  string
	idMap archive.IDMapFunc
}

// WithUser gives the container's configured user (its Config.User: "name",
// "uid", "name:group", "uid:gid", ...). With copyUIDGID every extracted
// entry is owned by that user and its primary group (or the group given),
// looked up in the container's /etc/passwd and /etc/group, as Docker does.
// Without WithUser, or with "", copyUIDGID changes nothing: the owners in
// the tar are kept, as Docker keeps them for a container without a user.
func WithUser(user string) ExtractOpt {
	return func(o *extractOptions) { o.user = user }
}

// WithIDMap maps every owner written (from the tar, or WithUser's) from the
// container's IDs to the host's, for a container in a user namespace.
func WithIDMap(f archive.IDMapFunc) ExtractOpt {
	return func(o *extractOptions) { o.idMap = f }
}
