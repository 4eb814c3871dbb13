// Package costmeter counts what a process asks of AWS: requests per service and operation
// and, for DynamoDB, the capacity units AWS charges for them, as DynamoDB itself reports
// them (ReturnConsumedCapacity). It is an AWS SDK middleware: attach a Meter to an
// aws.Config (Attach) or to one client's options (Register as an APIOptions entry), then
// take Snapshots around a span of work and subtract them.
//
// Warning: a request answered with an error (a failed condition, a cancelled transaction, a
// throttle) is counted as a request and as Failed, but carries no capacity units: DynamoDB
// does not report what it charged for it.
package costmeter

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// Service ids as the AWS SDK names them, the Service of an Op.
const (
	// ServiceDynamoDB is DynamoDB's service id.
	ServiceDynamoDB = "DynamoDB"
	// ServiceSQS is SQS's service id.
	ServiceSQS = "SQS"
	// ServiceSNS is SNS's service id.
	ServiceSNS = "SNS"
)

// Op is one operation of one service, e.g. {DynamoDB, TransactWriteItems}.
type Op struct {
	// Service is the SDK's service id (ServiceDynamoDB, ServiceSQS, ServiceSNS, …).
	Service string
	// Operation is the API operation's name, e.g. "PutItem" or "SendMessage".
	Operation string
}

// String returns "Service.Operation".
func (o Op) String() string { return o.Service + "." + o.Operation }

// Usage is what the requests of one operation cost.
type Usage struct {
	// Requests counts the HTTP requests sent, each retry included: what AWS bills per
	// request.
	Requests int64
	// Failed counts the requests answered with an error.
	Failed int64
	// Entries counts the items or messages the successful calls carried: the entries of a
	// batch or transaction, the messages a receive returned, the items a Query or Scan
	// read; 1 for a call about one item or message.
	Entries int64
	// ReadUnits are the read capacity units consumed, indexes included.
	ReadUnits float64
	// WriteUnits are the write capacity units consumed, index writes included.
	WriteUnits float64
	// IndexReadUnits is the share of ReadUnits consumed by secondary indexes.
	IndexReadUnits float64
	// IndexWriteUnits is the share of WriteUnits consumed by secondary indexes.
	IndexWriteUnits float64
	// Unmetered counts successful DynamoDB calls whose answer reported no consumed
	// capacity, so that a total known to be short says so.
	Unmetered int64
}

func (u Usage) add(v Usage, sign float64) Usage {
	s := int64(sign)
	return Usage{
		Requests:        u.Requests + s*v.Requests,
		Failed:          u.Failed + s*v.Failed,
		Entries:         u.Entries + s*v.Entries,
		ReadUnits:       u.ReadUnits + sign*v.ReadUnits,
		WriteUnits:      u.WriteUnits + sign*v.WriteUnits,
		IndexReadUnits:  u.IndexReadUnits + sign*v.IndexReadUnits,
		IndexWriteUnits: u.IndexWriteUnits + sign*v.IndexWriteUnits,
		Unmetered:       u.Unmetered + s*v.Unmetered,
	}
}

// Add returns u and v summed.
func (u Usage) Add(v Usage) Usage { return u.add(v, 1) }

// Sub returns u less v.
func (u Usage) Sub(v Usage) Usage { return u.add(v, -1) }

// Counts is the usage of every operation at one moment. It is a value: Snapshot, Sub and
// Add return new Counts and never change the ones they are given.
type Counts struct {
	ops map[Op]Usage
}

// Of returns the usage of op (zero when it was never called).
func (c Counts) Of(op Op) Usage { return c.ops[op] }

// Ops returns the operations with any usage, in service then operation order.
func (c Counts) Ops() []Op {
	ops := make([]Op, 0, len(c.ops))
	for op := range c.ops {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b Op) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Operation, b.Operation))
	})
	return ops
}

// Service returns the usage of every operation of service, summed.
func (c Counts) Service(service string) Usage {
	var sum Usage
	for op, u := range c.ops {
		if op.Service == service {
			sum = sum.Add(u)
		}
	}
	return sum
}

// Sub returns c less base, per operation: the usage of the span between two snapshots.
// Operations left with no usage are dropped.
func (c Counts) Sub(base Counts) Counts { return c.combine(base, Usage.Sub) }

// Add returns c and o summed per operation: the usage of two spans.
func (c Counts) Add(o Counts) Counts { return c.combine(o, Usage.Add) }

func (c Counts) combine(o Counts, f func(Usage, Usage) Usage) Counts {
	out := Counts{ops: maps.Clone(c.ops)}
	if out.ops == nil {
		out.ops = map[Op]Usage{}
	}
	for op, u := range o.ops {
		out.ops[op] = f(out.ops[op], u)
	}
	for op, u := range out.ops {
		if u == (Usage{}) {
			delete(out.ops, op)
		}
	}
	return out
}

// Meter counts the usage of every request made through the clients it is attached to. It
// is safe for concurrent use; the zero value is not, use New.
type Meter struct {
	mu  sync.Mutex
	ops map[Op]Usage
}

// New returns a meter that has counted nothing.
func New() *Meter { return &Meter{ops: map[Op]Usage{}} }

// Snapshot returns the usage counted so far.
func (m *Meter) Snapshot() Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Counts{ops: maps.Clone(m.ops)}
}

func (m *Meter) record(op Op, u Usage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops[op] = m.ops[op].Add(u)
}
