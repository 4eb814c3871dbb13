package clockcheck

import (
	"context"
	"net/http"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Attach returns a copy of cfg whose clients report every response's Date to c; cfg itself
// is unchanged.
func (c *Check) Attach(cfg aws.Config) aws.Config {
	// A fresh slice: appending to cfg's could write into an array other copies share.
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), c.Register)
	return cfg
}

// Register adds the check's middleware to one operation's stack; it is an entry for
// aws.Config.APIOptions or a client's Options.APIOptions.
func (c *Check) Register(stack *middleware.Stack) error {
	// Last in the deserialize step, next to the transport: the times it reads bracket one
	// HTTP attempt as closely as the stack allows.
	return stack.Deserialize.Add(dateMiddleware{c}, middleware.After)
}

// dateMiddleware observes the Date header of every HTTP response.
type dateMiddleware struct{ c *Check }

func (dateMiddleware) ID() string { return "clockcheck.Date" }

func (d dateMiddleware) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	sent := d.c.cfg.Now()
	out, md, err := next.HandleDeserialize(ctx, in)
	received := d.c.cfg.Now()
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
		if date, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			d.c.Observe(sent, received, date)
		}
	}
	return out, md, err
}
