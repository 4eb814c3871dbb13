package costmeter

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes a meter's counts as Prometheus counters, read at each scrape:
// <namespace>_aws_requests_total{service,operation} and
// <namespace>_dynamodb_capacity_units_total{kind="read|write",operation}.
type Collector struct {
	m        *Meter
	requests *prometheus.Desc
	units    *prometheus.Desc
}

// NewCollector returns the collector of m, its metric names under namespace (e.g.
// "buildledger"; empty for none).
func NewCollector(m *Meter, namespace string) *Collector {
	return &Collector{
		m: m,
		requests: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "aws_requests_total"),
			"HTTP requests sent to AWS, retries included, by service and operation.", []string{"service", "operation"}, nil),
		units: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "dynamodb_capacity_units_total"),
			"DynamoDB capacity units consumed as DynamoDB reports them, indexes included, by kind (read, write) and operation.", []string{"kind", "operation"}, nil),
	}
}

// Describe sends the descriptors of the collector's metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.units
}

// Collect sends the meter's current counts.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counts := c.m.Snapshot()
	for _, op := range counts.Ops() {
		u := counts.Of(op)
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(u.Requests), op.Service, op.Operation)
		if op.Service != ServiceDynamoDB {
			continue
		}
		if u.ReadUnits > 0 {
			ch <- prometheus.MustNewConstMetric(c.units, prometheus.CounterValue, u.ReadUnits, "read", op.Operation)
		}
		if u.WriteUnits > 0 {
			ch <- prometheus.MustNewConstMetric(c.units, prometheus.CounterValue, u.WriteUnits, "write", op.Operation)
		}
	}
}
