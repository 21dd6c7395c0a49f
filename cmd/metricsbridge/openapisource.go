package main

import (
	"fmt"
	"io/fs"
)

// notAFile says why a --openapi path was not read as a file.
func notAFile(path string, fi fs.FileInfo, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
}

// withFileAttempt adds to a failed load of a path on the upstream that it
// was tried as a file first, and why that failed: a mistyped file name
// otherwise reads as an upstream that lacks its document.
func withFileAttempt(src openAPISource, err error) error {
	if err == nil || !src.upstream || src.fileErr == nil {
		return err
	}
	return fmt.Errorf("%w; before that, as a file: %v (write file:%s to mean the file only)", err, src.fileErr, src.raw)
}
