package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// The registries map stable type names to Go types. They are filled once at init and
// only read afterwards; type names are explicit so that renaming a Go type never changes
// what is stored.
var (
	eventRegistry   = map[string]eventEntry{}
	commandRegistry = map[string]commandEntry{}
)

type eventEntry struct {
	kind   string
	typ    reflect.Type
	decode func(body []byte) (Event, error)
}

type commandEntry struct {
	// fields are the command's JSON field names, sorted.
	fields []string
	decode func(fields map[string]json.RawMessage) (Command, error)
}

func init() {
	registerEvent[BuildCreated](KindRepo)
	registerEvent[BuildBrowserUpdated](KindRepo)
	registerEvent[BuildCompleted](KindRepo)
	registerEvent[StatusStarted](KindStatus)
	registerEvent[StatusEventRecorded](KindStatus)
	registerEvent[LocaleCompleted](KindStatus)
	registerEvent[StatusCompleted](KindStatus)
	registerEvent[StatusErrored](KindStatus)
	registerEvent[Locked](KindLock)
	registerEvent[LockRefreshed](KindLock)
	registerEvent[Released](KindLock)
	registerEvent[LockExpired](KindLock)
	registerEvent[LockQueued](KindLock)
	registerEvent[LockQueueLeft](KindLock)
	registerEvent[FreezeAdded](KindLock)
	registerEvent[FreezeRemoved](KindLock)
	registerEvent[JobStarted](KindJob)
	registerEvent[JobEnded](KindJob)

	registerCommand[CreateBuild]()
	registerCommand[UpdateBuild]()
	registerCommand[StartStatus]()
	registerCommand[RecordStatusEvent]()
	registerCommand[CompleteLocale]()
	registerCommand[Lock]()
	registerCommand[Release]()
	registerCommand[Renew]()
	registerCommand[ExpireLock]()
	registerCommand[LeaveQueue]()
	registerCommand[AddFreeze]()
	registerCommand[RemoveFreeze]()
	registerCommand[StartJob]()
	registerCommand[EndJob]()
}

func registerEvent[T Event](kind string) {
	var zero T
	name := zero.EventType()
	if _, dup := eventRegistry[name]; dup {
		panic("domain: event type " + name + " registered twice")
	}
	eventRegistry[name] = eventEntry{
		kind: kind,
		typ:  reflect.TypeOf(zero),
		decode: func(body []byte) (Event, error) {
			var e T
			if err := json.Unmarshal(body, &e); err != nil {
				return nil, err
			}
			return e, nil
		},
	}
}

func registerCommand[T Command]() {
	var zero T
	name := zero.CommandType()
	if _, dup := commandRegistry[name]; dup {
		panic("domain: command type " + name + " registered twice")
	}
	known := commandFieldNames(reflect.TypeFor[T]())
	commandRegistry[name] = commandEntry{
		fields: known,
		decode: func(fields map[string]json.RawMessage) (Command, error) {
			c, err := decodeFields[T](name, known, fields)
			if err != nil {
				return nil, err
			}
			if err := c.Validate(); err != nil {
				return nil, err
			}
			return c, nil
		},
	}
}

// decodeCommandError turns a JSON error into an InvalidCommandError naming the field.
func decodeCommandError(name string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "(command)"
		}
		return &InvalidCommandError{
			Command: name,
			Field:   field,
			Reason:  fmt.Sprintf("got JSON %s, want %s", typeErr.Value, typeErr.Type),
			Err:     err,
		}
	}
	return &InvalidCommandError{Command: name, Reason: "malformed JSON: " + err.Error(), Err: err}
}

// eventKind returns the kind of stream an event belongs to, or "" for a type this package
// does not know (including a foreign Go type that borrows a registered name).
func eventKind(e Event) string {
	entry, ok := eventRegistry[e.EventType()]
	if !ok || entry.typ != reflect.TypeOf(e) {
		return ""
	}
	return entry.kind
}

// DecodeEvent decodes the JSON body of an event of type typ. Fields it does not know are
// ignored so that older code can read events written by newer code.
func DecodeEvent(typ string, body []byte) (Event, error) {
	entry, ok := eventRegistry[typ]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownEventType, typ)
	}
	e, err := entry.decode(body)
	if err != nil {
		return nil, fmt.Errorf("domain: decode %s event: %w", typ, err)
	}
	return e, nil
}

// EncodeEvent returns the type name and JSON body of an event of this package.
func EncodeEvent(e Event) (typ string, body []byte, err error) {
	e = deref(e)
	if e == nil {
		return "", nil, fmt.Errorf("%w: nil event", ErrUnknownEventType)
	}
	if eventKind(e) == "" {
		return "", nil, fmt.Errorf("%w %q (%T)", ErrUnknownEventType, e.EventType(), e)
	}
	body, err = json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("domain: encode %s event: %w", e.EventType(), err)
	}
	return e.EventType(), body, nil
}

// DecodeCommand decodes and validates body, the JSON object of a command of type typ's
// fields, strictly: keys match the fields' names exactly, each at most once, and a key
// that is not a field is refused with its name. Every failure (unknown type, malformed
// JSON, an unknown or repeated field, a field of the wrong JSON type, a validation problem)
// wraps ErrInvalidCommand.
func DecodeCommand(typ string, body []byte) (Command, error) {
	fields, err := ObjectMembers(body)
	if err != nil {
		return nil, &InvalidCommandError{Command: typ, Reason: err.Error(), Err: err}
	}
	return DecodeCommandFields(typ, fields)
}

// DecodeCommandFields is DecodeCommand for an object already split by ObjectMembers, as
// the command envelope does to take out its own keys first.
func DecodeCommandFields(typ string, fields map[string]json.RawMessage) (Command, error) {
	entry, ok := commandRegistry[typ]
	if !ok {
		return nil, &InvalidCommandError{Reason: fmt.Sprintf("unknown command type %q", typ)}
	}
	return entry.decode(fields)
}

// CommandFields returns the JSON field names of command type typ, sorted; nil for a type
// that is not registered.
func CommandFields(typ string) []string {
	return slices.Clone(commandRegistry[typ].fields)
}

// EventTypes returns the registered event type names, sorted.
func EventTypes() []string { return sortedKeys(eventRegistry) }

// CommandTypes returns the registered command type names, sorted.
func CommandTypes() []string { return sortedKeys(commandRegistry) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
