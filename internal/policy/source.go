package policy

import (
	"sync/atomic"
)

// Source is the current policy of a file, reloaded on request (the worker reloads on
// SIGHUP). A reload that fails keeps the policy in force: a broken edit never leaves the
// worker without one, nor with half of one.
type Source struct {
	path    string
	current atomic.Pointer[Policy]
}

// NewSource loads the policy file at path; a file that does not load is an error.
func NewSource(path string) (*Source, error) {
	p, err := Load(path)
	if err != nil {
		return nil, err
	}
	s := &Source{path: path}
	s.current.Store(p)
	return s, nil
}

// Path returns the policy file's path.
func (s *Source) Path() string { return s.path }

// Policy returns the policy in force.
func (s *Source) Policy() *Policy { return s.current.Load() }

// Reload loads the file again. On success the new policy is in force from the next
// decision on and is returned; on failure the old one stays, and the error says why.
func (s *Source) Reload() (*Policy, error) {
	p, err := Load(s.path)
	if err != nil {
		return s.current.Load(), err
	}
	s.current.Store(p)
	return p, nil
}
