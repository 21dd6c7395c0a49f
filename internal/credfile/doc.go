// Package credfile reads a credential (an HMAC secret, a PEM key, a token)
// from a file with bounded cost: only a regular file is read, never a FIFO
// that blocks for ever or a device that never ends, and only up to a cap,
// since a key file is small and a large one is a mistake or an attack.
//
//	b, warning, err := credfile.Read(path, credfile.MaxSecretBytes)
//	if warning != "" { /* log it once: group or others may read the file */ }
package credfile
