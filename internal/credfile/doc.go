// Package credfile reads a file that a setting names (an HMAC secret, a
// PEM key or certificate, a token, an API description) with bounded cost:
// only a regular file is read, never a FIFO that blocks for ever or a
// device that never ends, and only up to a cap, since such a file is small
// and a large one is a mistake or an attack. It is the one reader for the
// binary and the library packages alike, so every file follows the same
// rules.
//
//	b, warning, err := credfile.Read(path, credfile.MaxSecretBytes)
//	if warning != "" { /* log it once: group or others may read the file */ }
package credfile
