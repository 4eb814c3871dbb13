package domain

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// lockSchema is the version of the EnvLock snapshot state. Leases, queues, tokens and
// freezes were added as optional fields of schema 1: a snapshot without them is the state
// of a lock that never had them, except a held lock's token (see restore).
const lockSchema = 1

// EnvLock is the state of an environment's deploy lock.
type EnvLock struct {
	stream
	env      string
	held     bool
	holder   string
	lockID   uuid.UUID
	uberlock bool
	meta     string
	// token is the fencing token of the grant held: the version of its Locked event.
	token int64
	// leaseMs and expiresAt are the grant's lease; 0 and zero without one.
	leaseMs   int64
	expiresAt time.Time
	// claim: a grant passed from the queue that its waiter has not claimed yet.
	claim   bool
	queue   []waiter
	freezes []Freeze
	// freezesAdded numbers the next freeze schedule.
	freezesAdded int
}

// Env returns the environment.
func (l *EnvLock) Env() string { return l.env }

// Held reports whether somebody holds the lock.
func (l *EnvLock) Held() bool { return l.held }

// Holder returns who holds the lock, empty when nobody does.
func (l *EnvLock) Holder() string { return l.holder }

// LockID returns the id of the lock held, uuid.Nil when none.
func (l *EnvLock) LockID() uuid.UUID { return l.lockID }

// Uberlock reports whether the lock held is an uberlock.
func (l *EnvLock) Uberlock() bool { return l.uberlock }

// Token returns the fencing token of the grant held, 0 when none.
func (l *EnvLock) Token() int64 { return l.token }

// ExpiresAt returns when the lease of the lock held runs out; zero without a lease.
func (l *EnvLock) ExpiresAt() time.Time { return l.expiresAt }

// Claim reports whether the lock held was passed from the queue and not claimed yet.
func (l *EnvLock) Claim() bool { return l.claim }

// Current reports whether the grant with token is the one held at now: held, not
// replaced, and its lease (if any) not run out.
func (l *EnvLock) Current(token int64, now time.Time) bool {
	return l.held && token > 0 && l.token == token && (l.expiresAt.IsZero() || now.Before(l.expiresAt))
}

// Queue returns the places in the queue in order, those that lapsed by now left out.
func (l *EnvLock) Queue(now time.Time) []Waiter {
	var out []Waiter
	for _, w := range l.queue {
		if !w.lapsed(now) {
			out = append(out, Waiter{User: w.User, Since: w.LastSeen, Position: len(out) + 1})
		}
	}
	return out
}

// Freezes returns the env's freeze schedules in the order they were added.
func (l *EnvLock) Freezes() []Freeze { return slices.Clone(l.freezes) }

func (l *EnvLock) kind() string { return KindLock }

// Handle decides the lock's commands. Every decision first settles the lock (a lease that
// ran out ends, a free lock passes to the head of its queue), then decides the command,
// then settles again, so that a release hands the lock on in the same decision.
func (l *EnvLock) Handle(c Command, env Env) ([]Event, error) {
	c, err := begin(l, c)
	if err != nil {
		return nil, err
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	d := &lockDecision{s: l.clone(), env: env, at: at}
	if err := d.settle(); err != nil {
		return nil, err
	}
	switch c := c.(type) {
	case Lock:
		err = d.lock(c)
	case Release:
		err = d.release(c)
	case Renew:
		err = d.renew(c)
	case ExpireLock:
		// Settling is all it asks for.
	case LeaveQueue:
		err = d.leaveQueue(c)
	case AddFreeze:
		err = d.addFreeze(c)
	case RemoveFreeze:
		err = d.removeFreeze(c)
	default:
		return nil, unsupported(l, c)
	}
	if err != nil {
		return nil, err
	}
	if err := d.settle(); err != nil {
		return nil, err
	}
	return d.events, nil
}

// lockDecision builds one decision's events on a copy of the state, applying each as it
// is raised, so that later rules see earlier events (a token is the version it lands at).
type lockDecision struct {
	s      *EnvLock
	env    Env
	at     time.Time
	events []Event
}

func (d *lockDecision) raise(e Event) {
	d.events = append(d.events, e)
	d.s.Apply(e)
}

// nextVersion is the version the next raised event lands at.
func (d *lockDecision) nextVersion() int64 { return d.s.version + 1 }

// settle ends a lease that has run out and passes a free lock to the first waiter whose
// place has not lapsed, unless a freeze window is open.
func (d *lockDecision) settle() error {
	s := d.s
	if s.held && !s.expiresAt.IsZero() && !d.at.Before(s.expiresAt) {
		d.raise(LockExpired{Env: s.env, User: s.holder, LockID: s.lockID, Uberlock: s.uberlock,
			Token: s.token, ExpiresAt: s.expiresAt, At: d.at, Claim: s.claim})
	}
	if s.held || len(s.queue) == 0 {
		return nil
	}
	if _, _, frozen := s.frozenAt(d.at); frozen {
		return nil
	}
	for len(s.queue) > 0 && s.queue[0].lapsed(d.at) {
		d.raise(LockQueueLeft{Env: s.env, User: s.queue[0].User, Dropped: true, At: d.at})
	}
	if len(s.queue) == 0 {
		return nil
	}
	head := s.queue[0]
	id, err := d.env.randomID()
	if err != nil {
		return err
	}
	claimMs := ClaimWindow.Milliseconds()
	d.raise(Locked{Env: s.env, User: head.User, Meta: head.Meta, Uberlock: head.Uberlock, LockID: id, At: d.at,
		Token: d.nextVersion(), LeaseMs: claimMs, ExpiresAt: leaseEnd(d.at, claimMs), Claim: true})
	return nil
}

// leaseMs returns the lease a command asks for, the operator's default when it asks for
// none, in milliseconds.
func (d *lockDecision) leaseMs(lease string) int64 {
	l, _ := ParseLease(lease) // validated
	if l == 0 {
		l = d.env.DefaultLease
	}
	return l.Milliseconds()
}

func (d *lockDecision) lock(c Lock) error {
	s := d.s
	if s.held && s.holder != c.User {
		// Whether the holder's lock is an uberlock or not, nobody else gets in.
		if !c.Queue {
			return &LockedError{Env: s.env, User: s.holder}
		}
		d.queue(c)
		return nil
	}
	leaseMs := d.leaseMs(c.Lease)
	if s.held {
		if c.Lease == "" && !s.claim && s.leaseMs > 0 {
			leaseMs = s.leaseMs // taking it again keeps the lease's length
		}
		d.raise(LockRefreshed{Env: s.env, User: c.User, Meta: c.Meta, Uberlock: s.uberlock || c.Uberlock, LockID: s.lockID,
			At: d.at, Token: s.token, LeaseMs: leaseMs, ExpiresAt: leaseEnd(d.at, leaseMs), Claimed: s.claim})
		return nil
	}
	grant := Locked{Env: s.env, User: c.User, Meta: c.Meta, Uberlock: c.Uberlock, At: d.at,
		Token: d.nextVersion(), LeaseMs: leaseMs, ExpiresAt: leaseEnd(d.at, leaseMs)}
	if f, w, frozen := s.frozenAt(d.at); frozen {
		if !c.BreakGlass {
			return &FrozenError{Env: s.env, Freeze: f, Window: w}
		}
		grant.BreakGlass, grant.Reason = true, c.Reason
		grant.Freeze = fmt.Sprintf("%s until %s", f, w.End.Format(time.RFC3339))
	}
	id, err := d.env.randomID()
	if err != nil {
		return err
	}
	grant.LockID = id
	d.raise(grant)
	return nil
}

// queue takes or renews c.User's place. A place that lapsed is dropped first, so that its
// user goes to the back of the line like any newcomer. Position and Waiting count the
// places that have not lapsed.
func (d *lockDecision) queue(c Lock) {
	s := d.s
	if i := s.waiting(c.User); i >= 0 && s.queue[i].lapsed(d.at) {
		d.raise(LockQueueLeft{Env: s.env, User: c.User, Dropped: true, At: d.at})
	}
	position, waiting := 0, 0
	for _, w := range s.queue {
		if w.lapsed(d.at) {
			continue
		}
		waiting++
		if w.User == c.User {
			position = waiting
		}
	}
	if position == 0 {
		waiting++
		position = waiting
	}
	d.raise(LockQueued{Env: s.env, User: c.User, Meta: c.Meta, Uberlock: c.Uberlock, LeaseMs: d.leaseMs(c.Lease),
		Holder: s.holder, Position: position, Waiting: waiting, At: d.at})
}

func (d *lockDecision) release(c Release) error {
	s := d.s
	if c.Token != 0 && (!s.held || s.token != c.Token) {
		return &LockLostError{Env: s.env, User: c.User, Token: c.Token, Holder: s.holder, Current: s.token}
	}
	if c.Force {
		if !s.held {
			return &NotLockHolderError{Env: s.env, User: c.User}
		}
		d.raise(Released{Env: s.env, User: s.holder, LockID: s.lockID, Uberlock: s.uberlock, At: d.at,
			Token: s.token, ForcedBy: c.User, Reason: c.Reason})
		return nil
	}
	if !s.held || s.holder != c.User {
		return &NotLockHolderError{Env: s.env, User: c.User, Holder: s.holder}
	}
	if s.uberlock && !c.Uberlock {
		return &UberlockReleaseError{Env: s.env, User: s.holder}
	}
	d.raise(Released{Env: s.env, User: c.User, LockID: s.lockID, Uberlock: s.uberlock, At: d.at, Token: s.token})
	return nil
}

func (d *lockDecision) renew(c Renew) error {
	s := d.s
	if !s.held || s.holder != c.User || c.Token != 0 && c.Token != s.token {
		return &LockLostError{Env: s.env, User: c.User, Token: c.Token, Holder: s.holder, Current: s.token}
	}
	leaseMs := s.leaseMs
	if c.Lease != "" {
		leaseMs = d.leaseMs(c.Lease)
	}
	d.raise(LockRefreshed{Env: s.env, User: s.holder, Meta: s.meta, Uberlock: s.uberlock, LockID: s.lockID, At: d.at,
		Token: s.token, LeaseMs: leaseMs, ExpiresAt: leaseEnd(d.at, leaseMs), Renewed: true, Claimed: s.claim})
	return nil
}

func (d *lockDecision) leaveQueue(c LeaveQueue) error {
	s := d.s
	if s.held && s.holder == c.User {
		return &HolderError{Env: s.env, User: c.User, Token: s.token}
	}
	if s.waiting(c.User) >= 0 {
		d.raise(LockQueueLeft{Env: s.env, User: c.User, At: d.at})
	}
	return nil
}

func (d *lockDecision) addFreeze(c AddFreeze) error {
	dur, _ := time.ParseDuration(c.Duration) // validated
	tz := c.TZ
	if tz == "" {
		tz = "UTC"
	}
	d.raise(FreezeAdded{Env: d.s.env, ID: d.s.freezesAdded + 1, User: c.User, Cron: c.Cron,
		DurationMs: dur.Milliseconds(), TZ: tz, Reason: c.Reason, At: d.at})
	return nil
}

func (d *lockDecision) removeFreeze(c RemoveFreeze) error {
	if !slices.ContainsFunc(d.s.freezes, func(f Freeze) bool { return f.ID == c.ID }) {
		return &UnknownFreezeError{Env: d.s.env, ID: c.ID}
	}
	d.raise(FreezeRemoved{Env: d.s.env, ID: c.ID, User: c.User, At: d.at})
	return nil
}

// frozenAt returns the freeze window open at t with the latest end, if any.
func (l *EnvLock) frozenAt(t time.Time) (Freeze, Window, bool) {
	var (
		found  Freeze
		window Window
		open   bool
	)
	for _, f := range l.freezes {
		if w, ok := f.OpenAt(t); ok && (!open || w.End.After(window.End)) {
			found, window, open = f, w, true
		}
	}
	return found, window, open
}

// FrozenAt returns the freeze window open at t, if any.
func (l *EnvLock) FrozenAt(t time.Time) (Freeze, Window, bool) { return l.frozenAt(t) }

func (w waiter) lapsed(now time.Time) bool { return now.Sub(w.LastSeen) >= WaiterTimeout }

// waiting returns user's index in the queue, -1 when not in it.
func (l *EnvLock) waiting(user string) int {
	return slices.IndexFunc(l.queue, func(w waiter) bool { return w.User == user })
}

func (l *EnvLock) clone() *EnvLock {
	c := *l
	c.queue = slices.Clone(l.queue)
	c.freezes = slices.Clone(l.freezes)
	return &c
}

// Apply changes the state by one event.
func (l *EnvLock) Apply(e Event) {
	switch e := l.next(e).(type) {
	case Locked:
		l.held, l.holder, l.lockID, l.uberlock, l.meta = true, e.User, e.LockID, e.Uberlock, e.Meta
		l.token = cmpOr(e.Token, l.version)
		l.setLease(e.LeaseMs, e.ExpiresAt)
		l.claim = e.Claim
		l.dequeue(e.User)
	case LockRefreshed:
		l.held, l.holder, l.lockID, l.uberlock, l.meta = true, e.User, e.LockID, e.Uberlock, e.Meta
		l.setLease(e.LeaseMs, e.ExpiresAt)
		l.claim = false
	case Released, LockExpired:
		l.free()
	case LockQueued:
		w := waiter{User: e.User, Meta: e.Meta, Uberlock: e.Uberlock, LeaseMs: e.LeaseMs, LastSeen: e.At}
		if i := l.waiting(e.User); i >= 0 {
			l.queue[i] = w
		} else {
			l.queue = append(l.queue, w)
		}
	case LockQueueLeft:
		l.dequeue(e.User)
	case FreezeAdded:
		l.freezes = append(l.freezes, FreezeOf(e))
		l.freezesAdded = max(l.freezesAdded, e.ID)
	case FreezeRemoved:
		l.freezes = slices.DeleteFunc(l.freezes, func(f Freeze) bool { return f.ID == e.ID })
	}
}

func (l *EnvLock) setLease(ms int64, end *time.Time) {
	l.leaseMs, l.expiresAt = ms, time.Time{}
	if end != nil {
		l.expiresAt = *end
	}
}

func (l *EnvLock) free() {
	l.held, l.holder, l.lockID, l.uberlock, l.meta = false, "", uuid.Nil, false, ""
	l.token, l.leaseMs, l.expiresAt, l.claim = 0, 0, time.Time{}, false
}

func (l *EnvLock) dequeue(user string) {
	l.queue = slices.DeleteFunc(l.queue, func(w waiter) bool { return w.User == user })
}

func cmpOr(v, fallback int64) int64 {
	if v != 0 {
		return v
	}
	return fallback
}

// SnapshotSchema returns the version of the state schema.
func (l *EnvLock) SnapshotSchema() int { return lockSchema }

type lockState struct {
	Env          string        `json:"env"`
	Held         bool          `json:"held"`
	Holder       string        `json:"holder"`
	LockID       uuid.UUID     `json:"lockId"`
	Uberlock     bool          `json:"uberlock"`
	Meta         string        `json:"meta,omitempty"`
	Token        int64         `json:"token,omitempty"`
	LeaseMs      int64         `json:"leaseMs,omitempty"`
	ExpiresAt    *time.Time    `json:"expiresAt,omitempty"`
	Claim        bool          `json:"claim,omitempty"`
	Queue        []waiter      `json:"queue,omitempty"`
	Freezes      []freezeState `json:"freezes,omitempty"`
	FreezesAdded int           `json:"freezesAdded,omitempty"`
}

type freezeState struct {
	ID         int       `json:"id"`
	Cron       string    `json:"cron"`
	DurationMs int64     `json:"durationMs"`
	TZ         string    `json:"tz"`
	Reason     string    `json:"reason"`
	User       string    `json:"user"`
	AddedAt    time.Time `json:"addedAt"`
}

// MarshalState returns the state as JSON.
func (l *EnvLock) MarshalState() ([]byte, error) {
	s := lockState{Env: l.env, Held: l.held, Holder: l.holder, LockID: l.lockID, Uberlock: l.uberlock, Meta: l.meta,
		Token: l.token, LeaseMs: l.leaseMs, Claim: l.claim, Queue: l.queue, FreezesAdded: l.freezesAdded}
	if !l.expiresAt.IsZero() {
		s.ExpiresAt = &l.expiresAt
	}
	for _, f := range l.freezes {
		s.Freezes = append(s.Freezes, freezeState{ID: f.ID, Cron: f.Cron, DurationMs: f.Duration.Milliseconds(),
			TZ: f.TZ, Reason: f.Reason, User: f.User, AddedAt: f.AddedAt})
	}
	return jsonMarshal(s)
}

func (l *EnvLock) restore(state []byte) error {
	var s lockState
	if err := decodeState(state, &s); err != nil {
		return err
	}
	switch {
	case s.Env != l.env:
		return fmt.Errorf("state is of env %s", s.Env)
	case s.Held && (s.Holder == "" || s.LockID == uuid.Nil):
		return fmt.Errorf("a held lock has no holder or id")
	case s.Held && s.Token == 0:
		// Written before fencing tokens: the version of the grant is not known, and only
		// the events can tell it.
		return fmt.Errorf("a held lock has no fencing token")
	case !s.Held && (s.Holder != "" || s.LockID != uuid.Nil || s.Uberlock || s.Token != 0):
		return fmt.Errorf("a free lock has a holder, id, token or uberlock")
	}
	l.held, l.holder, l.lockID, l.uberlock, l.meta = s.Held, s.Holder, s.LockID, s.Uberlock, s.Meta
	l.token, l.claim, l.queue, l.freezesAdded = s.Token, s.Claim, s.Queue, s.FreezesAdded
	l.setLease(s.LeaseMs, s.ExpiresAt)
	for _, f := range s.Freezes {
		l.freezes = append(l.freezes, Freeze{ID: f.ID, Cron: f.Cron, Duration: time.Duration(f.DurationMs) * time.Millisecond,
			TZ: f.TZ, Reason: f.Reason, User: f.User, AddedAt: f.AddedAt})
	}
	return nil
}
