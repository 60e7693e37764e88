// Package logfile is Docker's json-file log driver: the writer the
// container monitor uses to store a container's stdout and stderr, and the
// reader the daemon uses to answer docker logs.
//
// # Glossary
//
//   - record: one JSON object on one line of a log file, for one chunk of
//     output of one stream.
//   - line: what a record's "log" holds: a complete line of output with its
//     trailing "\n", or a partial line without it.
//   - current file: the file at the log path, the only one written to.
//   - rotated file: path.1 (the newest) to path.N (the oldest), renamed
//     away from the current file by rotation and never written again.
//
// # On disk
//
// Exactly Docker's json-file format, so that files move between Docker and
// Shoal either way:
//
//	<path>.2   oldest rotated file (up to MaxFiles-1 of them)
//	<path>.1   newest rotated file
//	<path>     current file, mode 0640, opened O_APPEND
//
//	{"log":"hello\n","stream":"stdout","time":"2026-11-23T10:00:00.123456789Z"}\n
//	{"log":"no newline","stream":"stderr","time":"2026-11-23T10:00:00.2Z"}\n
//
// "time" is RFC 3339 with nanoseconds, in UTC, trailing zeros dropped.
// "log" is encoded as Docker encodes it: <, > and & as \u003c, \u003e and
// \u0026, control characters other than \n and \r as \u00XX, invalid UTF-8
// as \ufffd, U+2028 and U+2029 escaped. An empty "log" or "stream" is left
// out. The reader ignores other members ("attrs" written by Docker's
// labels/env options).
//
// # Writing
//
// A LineSplitter per stream turns raw output into lines as Docker's log
// copier does: a line is written once its newline arrives; 16 KiB
// without a newline are written as a partial record and the line goes on
// in the next record, all pieces carrying the time of the first; Flush
// writes what is held as a partial record. The Writer serialises the
// records of both streams. It holds one file descriptor and no goroutine;
// encoding buffers come from a shared sync.Pool.
//
// Before a record is written, the current file is rotated if the record
// would take it past MaxSize (a record bigger than MaxSize still goes, alone,
// into a fresh file): path.(MaxFiles-1) is removed, each path.i is renamed
// to path.(i+1), path to path.1, and a new path is created. With MaxFiles
// 1, path is removed and created again. Readers that hold a file open keep
// reading it; renames never lose data a reader has yet to read.
//
// # Reading
//
// Read lists path.N ... path.1, path (oldest first) and reads them as one
// stream. Tail counts records (lines that decode) back from the end across
// files; then Since drops records before it until the first that is not
// (later records are not filtered again, as in Docker, since times need
// not be monotonic); the first record after Until ends the read. Both
// bounds are inclusive. A line that does not decode as a JSON object, or
// is longer than 1 MiB, is skipped.
//
// Following polls every 50 ms: it reads the file it holds to its end,
// then compares its identity (device and inode) with the file at path. If
// they differ, the file was rotated: it reads the rest of the held file,
// then moves to the file that came after it, found by identity among the
// rotated files, so rotations while following neither lose nor repeat
// records, unless a file is rotated out entirely (deleted) before the
// reader gets to it.
//
// # Caveats
//
//   - Compression of rotated files (log-opt compress=true) and the
//     labels, labels-regex, env, env-regex and tag options are not
//     supported: ParseOptions refuses them.
//   - max-size takes go-units' decimal sizes, as Docker's does: "10m" is
//     10,000,000 bytes.
//   - Reading cannot tell rotated files of an older configuration (a
//     larger max-file) from current ones; it reads every path.N present.
//   - Writes are not fsynced: a host crash can lose the last records or
//     leave a partial one, which the reader skips and the writer ends with
//     a newline when it reopens the file.
package logfile
