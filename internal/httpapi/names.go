package httpapi

import (
	"errors"
	"fmt"
	"strings"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
)

// exampleKey shows the format of an event key in error messages.
const exampleKey = "20261121T101500123000420042"

// name reads a required stream-id component (user, repo, pkg, env, version, jobname) and
// refuses one no command could have written, before the store is asked: an over-long key
// would fail in DynamoDB, and a look-alike ("api ") would only ever be "not found".
func (p *params) name(field string) string {
	v := p.str(field)
	if v == "" {
		return v
	}
	if err := domain.ValidateStreamName(field, v); err != nil {
		var ice *domain.InvalidCommandError
		if errors.As(err, &ice) {
			p.fail(field, ice.Reason)
		} else {
			p.fail(field, err.Error())
		}
	}
	return v
}

// commandID checks the id of /v1/commands/{id} under the rules a command's id is accepted
// with, so that no id the worker refuses reaches the store.
func (p *params) commandID(field, id string) string {
	var bad *envelope.IDError
	if errors.As(envelope.CheckID(id), &bad) {
		p.fail(field, bad.Problem)
	}
	return id
}

// stream reads an optional stream id: one of the domain's (repo:, status:, lock:, job:) or
// the stream of an event stored by Put ("put:" and its key). The store's own streams ("$…")
// are not readable.
func (p *params) stream(field string) string {
	v := p.r.URL.Query().Get(field)
	if v == "" {
		return v
	}
	if key, ok := strings.CutPrefix(v, eventstore.PutStreamPrefix); ok {
		if _, err := eventstore.ParseKey(key); err != nil {
			p.fail(field, fmt.Sprintf("%s must be followed by an event key such as %s", eventstore.PutStreamPrefix, exampleKey))
		}
		return v
	}
	if _, err := domain.NewAggregate(v); err != nil {
		p.fail(field, err.Error())
	}
	return v
}

// eventKey reads an optional event key, the after of the time-ordered feed.
func (p *params) eventKey(field string) string {
	v := p.r.URL.Query().Get(field)
	if v == "" {
		return v
	}
	if _, err := eventstore.ParseKey(v); err != nil {
		p.fail(field, fmt.Sprintf("is not an event key (%d characters such as %s; pass the next of the previous page)", eventstore.KeyLength, exampleKey))
	}
	return v
}
